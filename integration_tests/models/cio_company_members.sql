select company_id, cast(customer_id as varchar) as customer_id, role
from {{ ref('memberships') }}
