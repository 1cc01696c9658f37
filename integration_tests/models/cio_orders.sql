select
    order_id,
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    anonymous_id,
    event_name,
    amount,
    ordered_at
from {{ ref('orders') }}
