{#-
  dbt-cio's row checks in SQL: lengths and predicates that say when a row must go through dbt-cio's Python
  mapper instead of being sent as the warehouse rendered it (dbt_cio/payloads/rendered.py). Each may flag
  more rows than strictly needed (Python then decides exactly), never fewer. Dispatched as in values.sql.
-#}

{#- ---- the length of a text in UTF-8 bytes (Customer.io's limits are in bytes) ----------------------- -#}

{%- macro utf8_length(x) -%}{{ return(adapter.dispatch('utf8_length', 'dbt_cio')(x)) }}{%- endmacro -%}
{%- macro default__utf8_length(x) -%}octet_length({{ x }}){%- endmacro -%}
{%- macro duckdb__utf8_length(x) -%}strlen({{ x }}){%- endmacro -%}
{#- octet_length counts in the database's encoding, which need not be UTF-8 -#}
{%- macro postgres__utf8_length(x) -%}octet_length(convert_to({{ x }}, 'UTF8')){%- endmacro -%}
{%- macro redshift__utf8_length(x) -%}octet_length({{ x }}){%- endmacro -%}
{%- macro bigquery__utf8_length(x) -%}byte_length({{ x }}){%- endmacro -%}

{#- ---- a cheap bound on it, where the exact length costs (nothing elsewhere): a length that a text's UTF-8 ---
    length never exceeds four times (a character takes at least one byte in any encoding, at most four in
    UTF-8), so that only texts longer than a quarter of a limit are measured exactly -#}

{%- macro utf8_length_bound(x) -%}{{ return(adapter.dispatch('utf8_length_bound', 'dbt_cio')(x)) }}{%- endmacro -%}
{%- macro default__utf8_length_bound(x) -%}{%- endmacro -%}
{%- macro postgres__utf8_length_bound(x) -%}octet_length({{ x }}){%- endmacro -%}
{%- macro redshift__utf8_length_bound(x) -%}{%- endmacro -%}

{#- ---- whether a text is all ASCII (then SQL's lower() is Python's) --------------------------------- -#}

{%- macro is_ascii(x) -%}{{ return(adapter.dispatch('is_ascii', 'dbt_cio')(x)) }}{%- endmacro -%}
{%- macro default__is_ascii(x) -%}{{ dbt_cio.utf8_length(x) }} = length({{ x }}){%- endmacro -%}

{#- ---- whether a text has a printable, non-space ASCII character --------------------------------------
    Python refuses an identifier that is empty or all whitespace (str.isspace, Unicode's whitespace): a text
    with a character in [!-~] is neither; one without is left to Python. -#}

{%- macro has_visible_ascii(x) -%}{{ return(adapter.dispatch('has_visible_ascii', 'dbt_cio')(x)) }}{%- endmacro -%}
{%- macro default__has_visible_ascii(x) -%}
  {{ exceptions.raise_compiler_error("dbt-cio has no regular expressions in SQL for adapter " ~ adapter.type()) }}
{%- endmacro -%}
{%- macro duckdb__has_visible_ascii(x) -%}regexp_matches({{ x }}, '[!-~]'){%- endmacro -%}
{%- macro postgres__has_visible_ascii(x) -%}({{ x }} ~ '[!-~]'){%- endmacro -%}
{%- macro snowflake__has_visible_ascii(x) -%}regexp_like({{ x }}, '.*[!-~].*', 's'){%- endmacro -%}
{%- macro bigquery__has_visible_ascii(x) -%}regexp_contains({{ x }}, r'[!-~]'){%- endmacro -%}
{%- macro spark__has_visible_ascii(x) -%}({{ x }} rlike '[!-~]'){%- endmacro -%}

{#- ---- JSON columns that Python would not read back as written ---------------------------------------
    Python parses a JSON column and writes it again: integers of 16 digits or more may become strings
    (beyond 2^53), numbers with an exponent may overflow to null, and escaped surrogates must pair up. Any
    text that might hold one of these (in a string too: that only costs a trip through Python) is flagged.
    Backslashes are doubled where the warehouse's string literals read escapes (Spark, Snowflake). -#}

{%- macro json_needs_python(x) -%}{{ return(adapter.dispatch('json_needs_python', 'dbt_cio')(x)) }}{%- endmacro -%}
{%- macro default__json_needs_python(x) -%}
  {{ exceptions.raise_compiler_error("dbt-cio has no regular expressions in SQL for adapter " ~ adapter.type()) }}
{%- endmacro -%}
{%- macro duckdb__json_needs_python(x) -%}
regexp_matches(cast({{ x }} as varchar), '[0-9]{16}|(^|[:,\[\s])-?[0-9]+(\.[0-9]+)?[eE]|NaN|Infinity|\\u[dD][89abAB]')
{%- endmacro -%}
{%- macro postgres__json_needs_python(x) -%}
(cast({{ x }} as text) ~ '[0-9]{16}|(^|[:,\[\s])-?[0-9]+(\.[0-9]+)?[eE]|NaN|Infinity|\\u[dD][89abAB]')
{%- endmacro -%}
{%- macro snowflake__json_needs_python(x) -%}
regexp_like(cast({{ x }} as varchar), '.*([0-9]{16}|(^|[:,\\[\\s])-?[0-9]+(\\.[0-9]+)?[eE]|NaN|Infinity|\\\\u[dD][89abAB]).*', 's')
{%- endmacro -%}
{%- macro bigquery__json_needs_python(x) -%}
regexp_contains(to_json_string({{ x }}), r'[0-9]{16}|(^|[:,\[\s])-?[0-9]+(\.[0-9]+)?[eE]|NaN|Infinity|\\u[dD][89abAB]')
{%- endmacro -%}
{%- macro spark__json_needs_python(x) -%}
(cast({{ x }} as string) rlike '[0-9]{16}|(^|[:,\\[\\s])-?[0-9]+(\\.[0-9]+)?[eE]|NaN|Infinity|\\\\u[dD][89abAB]')
{%- endmacro -%}

{#- ---- decimals whose JSON form takes Python to decide (see json_decimal in values.sql) ----------------
    16 or 17 significant digits: whether a double holds them; more than 28: left to Python, which writes
    every digit (checked against it only up to 28 digits). -#}

{%- macro decimal_needs_python(x) -%}{{ return(adapter.dispatch('decimal_needs_python', 'dbt_cio')(x)) }}{%- endmacro -%}
{%- macro default__decimal_needs_python(x) -%}
{%- set p = dbt_cio.decimal_parts(x) -%}
({{ p.frac }} <> '' and (length({{ p.digits }}) between 16 and 17 or length({{ p.digits }}) > 28))
{%- endmacro -%}
{#- PostgreSQL's numeric also reaches below the smallest double -#}
{%- macro postgres__decimal_needs_python(x) -%}
{%- set p = dbt_cio.decimal_parts(x) -%}
({{ p.text }} not in ('NaN', 'Infinity', '-Infinity') and {{ p.frac }} <> '' and (length({{ p.digits }}) between 16 and 17 or length({{ p.digits }}) > 28 or abs({{ x }}) < 1e-300))
{%- endmacro -%}

{#- The digits of an integral decimal (as Python's identifier text: "42" for 42.00), NULL otherwise -#}
{%- macro decimal_integer_text(x) -%}{{ return(adapter.dispatch('decimal_integer_text', 'dbt_cio')(x)) }}{%- endmacro -%}
{%- macro default__decimal_integer_text(x) -%}
{%- set p = dbt_cio.decimal_parts(x) -%}
case when {{ p.text }} not in ('NaN', 'Infinity', '-Infinity') and {{ p.frac }} = '' then {{ p.sign }} || {{ p.int }} end
{%- endmacro -%}

{#- ---- instants Python cannot hold (infinite, or beyond its years 1-9999) ----------------------------- -#}

{%- macro temporal_needs_python(x) -%}{{ return(adapter.dispatch('temporal_needs_python', 'dbt_cio')(x)) }}{%- endmacro -%}
{%- macro default__temporal_needs_python(x) -%}(extract(year from {{ x }}) not between 1 and 9999){%- endmacro -%}
{%- macro duckdb__temporal_needs_python(x) -%}(isinf({{ x }}) or year({{ x }}) not between 1 and 9999){%- endmacro -%}
{%- macro postgres__temporal_needs_python(x) -%}(not isfinite({{ x }}) or extract(year from {{ x }}) not between 1 and 9999){%- endmacro -%}

{#- ---- how a rendered item is fetched: bytes where the driver hands them over as such ------------------ -#}

{%- macro item_output(x) -%}{{ return(adapter.dispatch('item_output', 'dbt_cio')(x)) }}{%- endmacro -%}
{%- macro default__item_output(x) -%}{{ x }}{%- endmacro -%}
{%- macro duckdb__item_output(x) -%}encode({{ x }}){%- endmacro -%}

{#- ---- what keeps a subquery from being inlined into the query around it ------------------------------
    The page query computes each row's item and flag once in a subquery and reads them several times around
    it; PostgreSQL would inline the subquery and compute them again at each reading (OFFSET 0 stops it). -#}

{%- macro subquery_fence() -%}{{ return(adapter.dispatch('subquery_fence', 'dbt_cio')()) }}{%- endmacro -%}
{%- macro default__subquery_fence() -%}{%- endmacro -%}
{%- macro postgres__subquery_fence() -%}offset 0{%- endmacro -%}
