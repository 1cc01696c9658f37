{#-
  Every SQL fragment dbt-cio renders payloads with, in one call: each of the dispatched macros of values.sql and
  checks.sql applied to the placeholder `x` (a name that appears verbatim where the value goes; subquery_fence
  takes none). dbt-cio renders this once per run and fills the placeholders in Python
  (dbt_cio/warehouse/jsonsql.py).
-#}
{%- macro sql_templates(x) -%}
{%- set out = {
    'json_string': dbt_cio.json_string(x),
    'json_integer': dbt_cio.json_integer(x),
    'json_decimal': dbt_cio.json_decimal(x),
    'json_double': dbt_cio.json_double(x),
    'json_float4': dbt_cio.json_float4(x),
    'json_boolean': dbt_cio.json_boolean(x),
    'json_raw': dbt_cio.json_raw(x),
    'unix_seconds_timestamp': dbt_cio.unix_seconds(x, 'timestamp'),
    'unix_seconds_date': dbt_cio.unix_seconds(x, 'date'),
    'unix_seconds_epoch': dbt_cio.unix_seconds(x, 'epoch'),
    'utf8_length': dbt_cio.utf8_length(x),
    'utf8_length_bound': dbt_cio.utf8_length_bound(x),
    'is_ascii': dbt_cio.is_ascii(x),
    'has_visible_ascii': dbt_cio.has_visible_ascii(x),
    'json_needs_python': dbt_cio.json_needs_python(x),
    'decimal_needs_python': dbt_cio.decimal_needs_python(x),
    'decimal_integer_text': dbt_cio.decimal_integer_text(x),
    'temporal_needs_python': dbt_cio.temporal_needs_python(x),
    'item_output': dbt_cio.item_output(x),
    'subquery_fence': dbt_cio.subquery_fence(),
} -%}
{{ return(out) }}
{%- endmacro -%}
