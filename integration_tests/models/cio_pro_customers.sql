select cast(customer_id as varchar) as customer_id
from {{ ref('customers') }}
where plan = 'pro'
