-- Generated people for large-sync tests and benchmarks: `--vars '{bulk_people: 1000000}'`.
-- Changing `bulk_version` changes the cohort of 1% of the rows (every hundredth person).
with numbers as (
    {{ numbers(var('bulk_people', 1000)) }}
)
select
    cast(n as {{ dbt.type_string() }}) as person_id,
    'person' || cast(n as {{ dbt.type_string() }}) || '@example.com' as email,
    'First' || cast(n % 1000 as {{ dbt.type_string() }}) as first_name,
    'Last' || cast(n % 997 as {{ dbt.type_string() }}) as last_name,
    case when n % 3 = 0 then 'pro' when n % 3 = 1 then 'free' else 'team' end as plan,
    cast(n % 10000 as {{ double_type() }}) / 100 as lifetime_value,
    n % 2 = 0 as is_active,
    case when n % 100 = 0 then 'v{{ var("bulk_version", 1) }}' else 'v1' end as cohort
from numbers
