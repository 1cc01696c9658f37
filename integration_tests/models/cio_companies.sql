select company_id, company_name, industry, employees
from {{ ref('companies') }}
