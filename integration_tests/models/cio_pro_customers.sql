select cast(customer_id as {{ dbt.type_string() }}) as customer_id
from {{ ref('customers') }}
where plan = 'pro'
