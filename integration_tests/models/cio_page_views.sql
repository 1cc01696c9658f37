select view_id, cast(customer_id as varchar) as customer_id, url, viewed_at
from {{ ref('page_views') }}
