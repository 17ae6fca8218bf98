{#- A monthly build appends each incremental model's new rows (materialized='incremental',
    incremental_strategy='append'). dbt-duckdb first writes them to a temporary table, then copies
    that into the model's table: at 1M households that copy is millions of rows per model. Here
    the temporary relation of such a model is a view instead, so its rows are computed once, by
    the insert itself. Every other table is created as dbt-duckdb does. -#}
{% macro duckdb__create_table_as(temporary, relation, compiled_code, language='sql', partitioned_by=none, sorted_by=none) -%}
    {%- if temporary and language == 'sql' and config.get('materialized') == 'incremental'
        and config.get('incremental_strategy') == 'append' -%}
        create temporary view {{ relation.include(database=false, schema=false) }} as (
            {{ compiled_code }}
        )
    {%- else -%}
        {{ dbt.duckdb__create_table_as(temporary, relation, compiled_code, language, partitioned_by, sorted_by) }}
    {%- endif -%}
{%- endmacro %}
