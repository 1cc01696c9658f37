-- Generated people for large-sync tests and benchmarks: `--vars '{bulk_people: 1000000}'`.
-- Changing `bulk_version` changes the cohort of 1% of the rows (every hundredth person).
with numbers as (
    select generate_series as n from generate_series(1, {{ var('bulk_people', 1000) }})
)
select
    cast(n as varchar(20)) as person_id,
    'person' || cast(n as varchar(20)) || '@example.com' as email,
    'First' || cast(n % 1000 as varchar(20)) as first_name,
    'Last' || cast(n % 997 as varchar(20)) as last_name,
    case when n % 3 = 0 then 'pro' when n % 3 = 1 then 'free' else 'team' end as plan,
    cast(n % 10000 as double precision) / 100 as lifetime_value,
    n % 2 = 0 as is_active,
    case when n % 100 = 0 then 'v{{ var("bulk_version", 1) }}' else 'v1' end as cohort
from numbers
