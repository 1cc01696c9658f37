select view_id, cast(customer_id as {{ dbt.type_string() }}) as customer_id, url, viewed_at
from {{ ref('page_views') }}
