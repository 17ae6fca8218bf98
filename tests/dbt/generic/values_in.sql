{#- dbt's relationships test over the distinct values: every value of `column_name` is a value of
    `field` in `to` — one lookup a value rather than one a row (household_scores has ~100 rows a
    household). With `increment_column`, a monthly incremental build checks the dates it appended. -#}
{% test values_in(model, column_name, to, field, increment_column=none) %}
with

child_values as (
    select distinct {{ column_name }} as value
    from {{ model }}
    where {{ column_name }} is not null
    {%- if increment_column and var('incremental_from') %}
    and {{ increment_column }} >= date '{{ var('incremental_from') }}'
    {%- endif %}
)

select child_values.value
from child_values
where child_values.value not in (
    select parent.{{ field }} from {{ to }} as parent where parent.{{ field }} is not null
)
{% endtest %}
