select
    order_id,
    cast(customer_id as varchar) as customer_id,
    anonymous_id,
    event_name,
    amount,
    ordered_at
from {{ ref('orders') }}
