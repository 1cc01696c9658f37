{#- The few things the integration models need that warehouses spell differently, through adapter dispatch. -#}

{#- The integers 1..count as a one-column relation `n`. -#}
{% macro numbers(count) %}{{ return(adapter.dispatch('numbers', 'dbt_cio_integration_tests')(count)) }}{% endmacro %}

{% macro default__numbers(count) %}
    select generate_series as n from generate_series(1, {{ count }})
{% endmacro %}

{% macro spark__numbers(count) %}
    select id as n from range(1, {{ count }} + 1)
{% endmacro %}

{#- An 8-byte floating point type. -#}
{% macro double_type() %}{{ return(adapter.dispatch('double_type', 'dbt_cio_integration_tests')()) }}{% endmacro %}

{% macro default__double_type() %}double precision{% endmacro %}

{% macro spark__double_type() %}double{% endmacro %}
