{#-
  dbt-cio's JSON values in SQL: each macro takes a SQL expression and returns a SQL expression whose value is
  the JSON text Customer.io receives for it, exactly as dbt-cio's Python mapper writes it
  (dbt_cio/customerio/values.py). A JSON text is never NULL: a NULL value is the text 'null'.

  Every macro is called through adapter.dispatch('<name>', 'dbt_cio'), so a project can override one for its
  warehouse with a `dispatch:` entry for the dbt_cio namespace in dbt_project.yml. The default__ variants
  that have no portable SQL raise: on such warehouses dbt-cio builds payloads in Python instead.
-#}

{#- ---- text ------------------------------------------------------------------------------------------- -#}

{%- macro json_string(x) -%}{{ return(adapter.dispatch('json_string', 'dbt_cio')(x)) }}{%- endmacro -%}

{%- macro default__json_string(x) -%}
  {{ exceptions.raise_compiler_error("dbt-cio has no JSON rendering in SQL for adapter " ~ adapter.type()) }}
{%- endmacro -%}

{%- macro duckdb__json_string(x) -%}
coalesce(cast(to_json(cast({{ x }} as varchar)) as varchar), 'null')
{%- endmacro -%}

{%- macro postgres__json_string(x) -%}
coalesce(cast(to_json(cast({{ x }} as text)) as text), 'null')
{%- endmacro -%}

{%- macro redshift__json_string(x) -%}
coalesce(json_serialize(cast({{ x }} as super)), 'null')
{%- endmacro -%}

{%- macro snowflake__json_string(x) -%}
coalesce(to_json(to_variant(cast({{ x }} as varchar))), 'null')
{%- endmacro -%}

{%- macro bigquery__json_string(x) -%}
coalesce(to_json_string(cast({{ x }} as string)), 'null')
{%- endmacro -%}

{#- Spark has no JSON text of a bare string: take it out of a one-element array (to_json(array(null)) is [null]) -#}
{%- macro spark__json_string(x) -%}
coalesce(trim(BOTH '[]' FROM to_json(array(cast({{ x }} as string)))), 'null')
{%- endmacro -%}

{#- ---- integers: a number, or the exact digits as a string beyond +-2^53 ------------------------------- -#}

{%- macro json_integer(x) -%}{{ return(adapter.dispatch('json_integer', 'dbt_cio')(x)) }}{%- endmacro -%}

{%- macro default__json_integer(x) -%}
case when {{ x }} is null then 'null' when {{ x }} between -9007199254740992 and 9007199254740992 then cast({{ x }} as {{ dbt.type_string() }}) else '"' || cast({{ x }} as {{ dbt.type_string() }}) || '"' end
{%- endmacro -%}

{#- ---- booleans -------------------------------------------------------------------------------------- -#}

{%- macro json_boolean(x) -%}{{ return(adapter.dispatch('json_boolean', 'dbt_cio')(x)) }}{%- endmacro -%}

{%- macro default__json_boolean(x) -%}
case when {{ x }} is null then 'null' when {{ x }} then 'true' else 'false' end
{%- endmacro -%}

{#- ---- doubles: Python's repr (shortest digits that read back the same double); NaN and infinities null -- -#}

{%- macro json_double(x) -%}{{ return(adapter.dispatch('json_double', 'dbt_cio')(x)) }}{%- endmacro -%}

{%- macro default__json_double(x) -%}
  {{ exceptions.raise_compiler_error("dbt-cio has no JSON rendering in SQL for adapter " ~ adapter.type()) }}
{%- endmacro -%}

{#- DuckDB writes a double as Python's repr does (tests/test_rendered.py checks 20,000 values) -#}
{%- macro duckdb__json_double(x) -%}
case when {{ x }} is null or isnan({{ x }}) or isinf({{ x }}) then 'null' else cast({{ x }} as varchar) end
{%- endmacro -%}

{#- PostgreSQL writes the shortest digits (at times 17 digits where fewer would do: the same double, longer),
    but integral values without ".0" and exponents from 1e15 (Python from 1e16): both are rewritten the way
    Python writes them. psycopg2 reads the same text, so the value is the one Python sends. -#}
{%- macro postgres__json_double(x) -%}
{%- set t = "cast(" ~ x ~ " as text)" -%}
{%- set digits = "replace(replace(split_part(" ~ t ~ ", 'e', 1), '-', ''), '.', '')" -%}
case when {{ x }} is null or {{ x }} in ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) then 'null' when {{ t }} like '%e+15' then (case when {{ x }} < 0 then '-' else '' end) || (case when length({{ digits }}) <= 16 then rpad({{ digits }}, 16, '0') || '.0' else left({{ digits }}, 16) || '.' || substr({{ digits }}, 17) end) when {{ t }} ~ '^-?[0-9]+$' then {{ t }} || '.0' else {{ t }} end
{%- endmacro -%}

{%- macro redshift__json_double(x) -%}
case when {{ x }} is null or {{ x }} in ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) then 'null' else cast({{ x }} as varchar) end
{%- endmacro -%}

{%- macro snowflake__json_double(x) -%}
case when {{ x }} is null or {{ x }} in ('NaN'::float, 'inf'::float, '-inf'::float) then 'null' else to_json(to_variant({{ x }})) end
{%- endmacro -%}

{%- macro bigquery__json_double(x) -%}
case when {{ x }} is null or is_nan({{ x }}) or is_inf({{ x }}) then 'null' else to_json_string({{ x }}) end
{%- endmacro -%}

{%- macro spark__json_double(x) -%}
case when {{ x }} is null or isnan({{ x }}) or {{ x }} in (double('Infinity'), double('-Infinity')) then 'null' else cast({{ x }} as string) end
{%- endmacro -%}

{#- ---- 4-byte floats, as the warehouse's driver hands them to Python ---------------------------------- -#}

{%- macro json_float4(x) -%}{{ return(adapter.dispatch('json_float4', 'dbt_cio')(x)) }}{%- endmacro -%}

{#- DuckDB's driver widens the float to a double -#}
{%- macro default__json_float4(x) -%}
{{ dbt_cio.json_double("cast(" ~ x ~ " as double)") }}
{%- endmacro -%}

{#- psycopg2 reads the float's own shortest text as a double -#}
{%- macro postgres__json_float4(x) -%}
{{ dbt_cio.json_double("cast(cast(" ~ x ~ " as text) as float8)") }}
{%- endmacro -%}

{%- macro bigquery__json_float4(x) -%}
{{ dbt_cio.json_double("cast(" ~ x ~ " as float64)") }}
{%- endmacro -%}

{#- ---- decimals: a number when a double holds the exact digits, else the exact digits as a string ------- -#}

{#- Written on the decimal's plain text (no double in between, so nothing is rounded twice):
    integral      -> its digits (a string beyond +-2^53), as Python's int(value)
    <= 15 digits  -> the number, as Python's repr of float(value): plain, or d.ddde-XX below 1e-4
    >= 18 digits  -> the exact digits as a string, as format(value.normalize(), 'f')
    16-17 digits  -> whether a double holds them takes a double: dbt_cio.decimal_needs_python sends those
                     rows through Python
    NaN, +-Infinity (PostgreSQL numeric) -> null -#}
{%- macro json_decimal(x) -%}{{ return(adapter.dispatch('json_decimal', 'dbt_cio')(x)) }}{%- endmacro -%}

{%- macro default__json_decimal(x) -%}
{%- set p = dbt_cio.decimal_parts(x) -%}
case when {{ x }} is null or {{ p.text }} in ('NaN', 'Infinity', '-Infinity') then 'null' when {{ p.frac }} = '' then (case when {{ x }} between -9007199254740992 and 9007199254740992 then {{ p.sign }} || {{ p.int }} else '"' || {{ p.sign }} || {{ p.int }} || '"' end) when length({{ p.digits }}) >= 18 then '"' || {{ p.sign }} || {{ p.int }} || '.' || {{ p.frac }} || '"' when {{ x }} > -0.0001 and {{ x }} < 0.0001 then {{ p.sign }} || left({{ p.significant }}, 1) || (case when length({{ p.significant }}) > 1 then '.' || substr({{ p.significant }}, 2) else '' end) || 'e-' || lpad(cast(length({{ p.frac }}) - length({{ p.significant }}) + 1 as {{ dbt.type_string() }}), 2, '0') else {{ p.sign }} || {{ p.int }} || '.' || {{ p.frac }} end
{%- endmacro -%}

{#- The pieces of a decimal's plain text, as SQL expressions: sign ('-' or ''), integer digits, fraction
    digits without trailing zeros ('' when integral), all significant digits, those of the fraction. -#}
{%- macro decimal_parts(x) -%}
{%- set text = dbt_cio.decimal_text(x) -%}
{%- set unsigned = "replace(" ~ text ~ ", '-', '')" -%}
{%- set int = dbt_cio.part_before_dot(unsigned) -%}
{%- set frac = dbt_cio.trim_trailing_zeros(dbt_cio.part_after_dot(unsigned)) -%}
{{ return({
    'text': text,
    'sign': "(case when " ~ x ~ " < 0 then '-' else '' end)",
    'int': int,
    'frac': frac,
    'digits': dbt_cio.trim_leading_zeros(int ~ " || " ~ frac),
    'significant': dbt_cio.trim_leading_zeros(frac),
}) }}
{%- endmacro -%}

{#- a decimal's plain text: Spark's cast writes Java's BigDecimal.toString (0E-10, 1.00E-8); format_number
    writes every digit plainly (of a BigDecimal: exact), grouped by commas, with zeros up to 38 places that are
    trimmed like the scale's -#}
{%- macro decimal_text(x) -%}{{ return(adapter.dispatch('decimal_text', 'dbt_cio')(x)) }}{%- endmacro -%}
{%- macro default__decimal_text(x) -%}cast({{ x }} as {{ dbt.type_string() }}){%- endmacro -%}
{%- macro spark__decimal_text(x) -%}replace(format_number({{ x }}, 38), ',', ''){%- endmacro -%}

{%- macro part_before_dot(s) -%}{{ return(adapter.dispatch('part_before_dot', 'dbt_cio')(s)) }}{%- endmacro -%}
{%- macro default__part_before_dot(s) -%}split_part({{ s }}, '.', 1){%- endmacro -%}
{%- macro bigquery__part_before_dot(s) -%}split({{ s }}, '.')[safe_offset(0)]{%- endmacro -%}

{%- macro part_after_dot(s) -%}{{ return(adapter.dispatch('part_after_dot', 'dbt_cio')(s)) }}{%- endmacro -%}
{%- macro default__part_after_dot(s) -%}split_part({{ s }}, '.', 2){%- endmacro -%}
{%- macro bigquery__part_after_dot(s) -%}coalesce(split({{ s }}, '.')[safe_offset(1)], ''){%- endmacro -%}

{%- macro trim_trailing_zeros(s) -%}{{ return(adapter.dispatch('trim_trailing_zeros', 'dbt_cio')(s)) }}{%- endmacro -%}
{%- macro default__trim_trailing_zeros(s) -%}rtrim({{ s }}, '0'){%- endmacro -%}
{%- macro spark__trim_trailing_zeros(s) -%}regexp_replace({{ s }}, '0+$', ''){%- endmacro -%}

{%- macro trim_leading_zeros(s) -%}{{ return(adapter.dispatch('trim_leading_zeros', 'dbt_cio')(s)) }}{%- endmacro -%}
{%- macro default__trim_leading_zeros(s) -%}ltrim({{ s }}, '0'){%- endmacro -%}
{%- macro spark__trim_leading_zeros(s) -%}regexp_replace({{ s }}, '^0+', ''){%- endmacro -%}

{#- ---- JSON columns: their text, as stored (dbt_cio.json_needs_python sends the rows Python would read
    differently through Python) ------------------------------------------------------------------------- -#}

{%- macro json_raw(x) -%}{{ return(adapter.dispatch('json_raw', 'dbt_cio')(x)) }}{%- endmacro -%}

{%- macro default__json_raw(x) -%}
coalesce(cast({{ x }} as {{ dbt.type_string() }}), 'null')
{%- endmacro -%}

{#- ---- instants: Unix seconds (floored; a naive timestamp is UTC, a date is its midnight UTC) ---------- -#}

{#- `kind` is 'timestamp' (with or without a time zone), 'date', or 'epoch' (an integer count of seconds,
    or of milliseconds/microseconds/nanoseconds when too large to be seconds, as Python's to_unix_seconds
    reads it). The result is an integer, NULL for NULL. -#}
{%- macro unix_seconds(x, kind) -%}{{ return(adapter.dispatch('unix_seconds', 'dbt_cio')(x, kind)) }}{%- endmacro -%}

{%- macro default__unix_seconds(x, kind) -%}
{%- if kind == 'epoch' -%}
case when abs({{ x }}) >= 100000000000000000 then {{ dbt_cio.floor_div(x, 1000000000) }} when abs({{ x }}) >= 100000000000000 then {{ dbt_cio.floor_div(x, 1000000) }} when abs({{ x }}) >= 100000000000 then {{ dbt_cio.floor_div(x, 1000) }} else {{ x }} end
{%- else -%}
  {{ exceptions.raise_compiler_error("dbt-cio has no Unix seconds in SQL for adapter " ~ adapter.type()) }}
{%- endif -%}
{%- endmacro -%}

{%- macro duckdb__unix_seconds(x, kind) -%}
{%- if kind == 'date' -%}cast(({{ x }} - date '1970-01-01') as bigint) * 86400
{%- elif kind == 'timestamp' -%}cast(epoch(date_trunc('second', {{ x }})) as bigint)
{%- else -%}{{ dbt_cio.default__unix_seconds(x, kind) }}{%- endif -%}
{%- endmacro -%}

{%- macro postgres__unix_seconds(x, kind) -%}
{%- if kind == 'date' -%}cast(({{ x }} - date '1970-01-01') as bigint) * 86400
{%- elif kind == 'timestamp' -%}cast(extract(epoch from date_trunc('second', {{ x }})) as bigint)
{%- else -%}{{ dbt_cio.default__unix_seconds(x, kind) }}{%- endif -%}
{%- endmacro -%}

{%- macro redshift__unix_seconds(x, kind) -%}
{%- if kind == 'date' -%}cast(datediff(day, date '1970-01-01', {{ x }}) as bigint) * 86400
{%- elif kind == 'timestamp' -%}cast(extract(epoch from date_trunc('second', {{ x }})) as bigint)
{%- else -%}{{ dbt_cio.default__unix_seconds(x, kind) }}{%- endif -%}
{%- endmacro -%}

{%- macro snowflake__unix_seconds(x, kind) -%}
{%- if kind == 'date' -%}datediff(day, to_date('1970-01-01'), {{ x }}) * 86400
{%- elif kind == 'timestamp' -%}date_part(epoch_second, date_trunc('second', {{ x }}))
{%- else -%}{{ dbt_cio.default__unix_seconds(x, kind) }}{%- endif -%}
{%- endmacro -%}

{%- macro bigquery__unix_seconds(x, kind) -%}
{%- if kind == 'date' -%}unix_date({{ x }}) * 86400
{%- elif kind == 'timestamp' -%}unix_seconds(timestamp({{ x }}))
{%- else -%}{{ dbt_cio.default__unix_seconds(x, kind) }}{%- endif -%}
{%- endmacro -%}

{#- Spark: a TIMESTAMP_NTZ is naive (its wall clock read as UTC, from its fields: a cast to TIMESTAMP would read
    it in the session's time zone); a TIMESTAMP is an instant -#}
{%- macro spark__unix_seconds(x, kind) -%}
{%- if kind == 'date' -%}cast(datediff({{ x }}, date'1970-01-01') as bigint) * 86400
{%- elif kind == 'timestamp' -%}case typeof({{ x }}) when 'timestamp_ntz' then cast(datediff(cast({{ x }} as date), date'1970-01-01') as bigint) * 86400 + hour({{ x }}) * 3600 + minute({{ x }}) * 60 + second({{ x }}) else unix_seconds(cast({{ x }} as timestamp)) end
{%- else -%}{{ dbt_cio.default__unix_seconds(x, kind) }}{%- endif -%}
{%- endmacro -%}

{#- floor(a / b) for integers, exactly (no double in between): b is a positive literal -#}
{%- macro floor_div(a, b) -%}{{ return(adapter.dispatch('floor_div', 'dbt_cio')(a, b)) }}{%- endmacro -%}
{%- macro default__floor_div(a, b) -%}(({{ a }} - mod(mod({{ a }}, {{ b }}) + {{ b }}, {{ b }})) / {{ b }}){%- endmacro -%}
{%- macro duckdb__floor_div(a, b) -%}(({{ a }} - mod(mod({{ a }}, {{ b }}) + {{ b }}, {{ b }})) // {{ b }}){%- endmacro -%}
{%- macro spark__floor_div(a, b) -%}(({{ a }} - pmod({{ a }}, {{ b }})) div {{ b }}){%- endmacro -%}
{%- macro bigquery__floor_div(a, b) -%}div({{ a }} - mod(mod({{ a }}, {{ b }}) + {{ b }}, {{ b }}), {{ b }}){%- endmacro -%}
