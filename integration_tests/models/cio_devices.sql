select device_token, cast(customer_id as {{ dbt.type_string() }}) as customer_id, platform, last_used_at
from {{ ref('devices') }}
