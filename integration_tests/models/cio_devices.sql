select device_token, cast(customer_id as varchar) as customer_id, platform, last_used_at
from {{ ref('devices') }}
