{#- Monthly incremental builds. huinong.increment compares the new raw tables with the published
    warehouse's; when every change is dated after the last month-end it had (new payments, loans,
    collections and write-offs; nothing corrected in the past), the build copies the published
    warehouse, writes what the delivery touched into raw.touched_loans, raw.touched_households and
    raw.touched_townships, and passes var incremental_from = the first day after that month-end.
    Then:
    - per-loan and per-household models recompute only the touched keys (delete them, append anew);
    - per-date models recompute the dates from incremental_from on — and, when a household moved
      village (R-B1 rewrites its whole history), on every earlier date what the move changes: its
      own rows, the breakers of the villages it left and joined and of their townships, and the
      households whose credit stop (or its reason) that changed (var incremental_townships).
    In a full build (a fresh file) the relations do not exist yet and every model builds in full. -#}

{% macro is_monthly_increment() -%}
    {#- var first: is_incremental() cannot run where there is no relation (dbt unit tests). -#}
    {{ return(var('incremental_from') and is_incremental()) }}
{%- endmacro %}

{#- Filter for the inputs of a per-key model: only the touched keys in an increment (touched_key:
    the touched table's column, when it is named otherwise). -#}
{% macro touched(key, touched_table, touched_key=none) -%}
    {%- if is_monthly_increment() -%}
        {{ key }} in (
            select touched.{{ touched_key or key }} from {{ source('intake', touched_table) }} as touched
        )
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

{#- The rows a per-date model rebuilds in an increment: the dates from incremental_from on, and,
    when households moved village (var incremental_townships), the rows their move changes on every
    earlier date, named by the arguments: their own rows (household, borrower), the villages they
    left or joined (village), those villages' townships (township), and the (village, date) pairs
    whose credit stop (or its reason) the move changed (stop_village). -#}
{% macro rebuilt(as_of_column, township=none, village=none, borrower=none, household=none, stop_village=none) -%}
    {%- if is_monthly_increment() -%}
        {{ rebuilt_predicate(as_of_column, township, village, borrower, household, stop_village) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro rebuilt_predicate(as_of_column, township=none, village=none, borrower=none, household=none, stop_village=none) -%}
    ({{ as_of_column }} >= date '{{ var('incremental_from') }}'
    {%- if var('incremental_townships') %}
        {%- if township %}
        or {{ township }} in (
            select touched.township_code from {{ source('intake', 'touched_townships') }} as touched
        )
        {%- endif %}
        {%- if village %}
        or {{ village }} in (
            select touched.village_code from {{ source('intake', 'touched_villages') }} as touched
        )
        {%- endif %}
        {%- for column in [borrower, household] if column %}
        or {{ column }} in (
            select moved.household_id from {{ source('intake', 'moved_households') }} as moved
        )
        {%- endfor %}
        {%- if stop_village %}
        or exists (
            select 1
            from {{ ref('int_credit_stops') }} as new_stops
            inner join {{ source('intake', 'previous_credit_stops') }} as old_stops
                on new_stops.village_code = old_stops.village_code and new_stops.as_of = old_stops.as_of
            where
                (
                    new_stops.credit_stopped <> old_stops.credit_stopped
                    or new_stops.stop_reason is distinct from old_stops.stop_reason
                )
                and new_stops.village_code = {{ stop_village }}
                and new_stops.as_of = {{ as_of_column }}
        )
        {%- endif %}
    {%- endif -%})
{%- endmacro %}

{#- pre_hook of a per-date model: remove the rows it rebuilds (including the previous build's
    provisional as-of date) before they are appended anew. -#}
{% macro delete_rebuilt(as_of_column='as_of', township=none, village=none, borrower=none, household=none) -%}
    {%- if is_monthly_increment() -%}
        delete from {{ this }}
        where {{ rebuilt_predicate(as_of_column, township, village, borrower, household) }}
    {%- endif -%}
{%- endmacro %}

{#- pre_hook of kpi_monthly: the rebuilt townships' rows, and the district's rows they add up to. -#}
{% macro delete_rebuilt_kpi() -%}
    {%- if is_monthly_increment() -%}
        delete from {{ this }}
        where
            (scope_level = 'township' and {{ rebuilt('as_of', township='scope_code') }})
            or (scope_level = 'district'
            {%- if not var('incremental_townships') %}
                and as_of >= date '{{ var('incremental_from') }}'
            {%- endif -%})
    {%- endif -%}
{%- endmacro %}
