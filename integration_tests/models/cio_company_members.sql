select company_id, cast(customer_id as {{ dbt.type_string() }}) as customer_id, role
from {{ ref('memberships') }}
