{#- Monthly incremental builds. huinong.increment compares the new raw tables with the published
    warehouse's; when every change is dated after the last month-end it had (new payments, loans,
    collections and write-offs; nothing corrected in the past), the build copies the published
    warehouse, writes what the delivery touched into raw.touched_loans, raw.touched_households and
    raw.touched_townships, and passes var incremental_from = the first day after that month-end.
    Then:
    - per-loan and per-household models recompute only the touched keys (delete them, append anew);
    - per-date models recompute the dates from incremental_from on — and, when a household moved
      village (R-B1 rewrites its whole history, and so its old and new villages' breakers and their
      townships'), every date of the touched townships (var incremental_townships).
    In a full build (a fresh file) the relations do not exist yet and every model builds in full. -#}

{% macro is_monthly_increment() -%}
    {#- var first: is_incremental() cannot run where there is no relation (dbt unit tests). -#}
    {{ return(var('incremental_from') and is_incremental()) }}
{%- endmacro %}

{#- Filter for the inputs of a per-key model: only the touched keys in an increment. -#}
{% macro touched(key, touched_table) -%}
    {%- if is_monthly_increment() -%}
        {{ key }} in (select touched.{{ key }} from {{ source('intake', touched_table) }} as touched)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- pre_hook of a per-key model: remove the touched keys' rows before they are appended anew. -#}
{% macro delete_touched(key, touched_table) -%}
    {%- if is_monthly_increment() -%}
        delete from {{ this }}
        where {{ key }} in (select touched.{{ key }} from {{ source('intake', touched_table) }} as touched)
    {%- endif -%}
{%- endmacro %}

{#- The rows a per-date model rebuilds in an increment: dates from incremental_from on, and every
    date of the touched townships when a household moved. -#}
{% macro rebuilt(as_of_column, township_column) -%}
    {%- if is_monthly_increment() -%}
        {{ rebuilt_predicate(as_of_column, township_column) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro rebuilt_predicate(as_of_column, township_column) -%}
    ({{ as_of_column }} >= date '{{ var('incremental_from') }}'
    {%- if var('incremental_townships') %}
        or {{ township_column }} in (
            select touched.township_code from {{ source('intake', 'touched_townships') }} as touched
        )
    {%- endif -%})
{%- endmacro %}

{#- pre_hook of a per-date model: remove the rows it rebuilds (including the previous build's
    provisional as-of date) before they are appended anew. -#}
{% macro delete_rebuilt(as_of_column='as_of', township_column='township_code') -%}
    {%- if is_monthly_increment() -%}
        delete from {{ this }} where {{ rebuilt(as_of_column, township_column) }}
    {%- endif -%}
{%- endmacro %}

{#- pre_hook of kpi_monthly: the rebuilt townships' rows, and the district's rows they add up to. -#}
{% macro delete_rebuilt_kpi() -%}
    {%- if is_monthly_increment() -%}
        delete from {{ this }}
        where
            (scope_level = 'township' and {{ rebuilt('as_of', 'scope_code') }})
            or (scope_level = 'district'
            {%- if not var('incremental_townships') %}
                and as_of >= date '{{ var('incremental_from') }}'
            {%- endif -%})
    {%- endif -%}
{%- endmacro %}
