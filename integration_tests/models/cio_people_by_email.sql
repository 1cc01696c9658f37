-- Update-only sync matched by email: never creates anyone.
select email, plan as current_plan, is_active
from {{ ref('customers') }}
