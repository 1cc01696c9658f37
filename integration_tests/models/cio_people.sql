select
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    email,
    first_name,
    last_name,
    plan,
    lifetime_value,
    signed_up_at,
    is_active
from {{ ref('customers') }}
