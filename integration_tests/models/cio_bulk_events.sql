-- Generated events for large-sync tests: `--vars '{bulk_events: 100000}'`, one per person of cio_bulk_people.
with numbers as (
    {{ numbers(var('bulk_events', 1000)) }}
)
select
    'evt-' || cast(n as {{ dbt.type_string() }}) as event_key,
    cast(1 + n % {{ var('bulk_people', 1000) }} as {{ dbt.type_string() }}) as person_id,
    case when n % 2 = 0 then 'viewed_item' else 'added_to_cart' end as event_name,
    n % 97 as quantity
from numbers
