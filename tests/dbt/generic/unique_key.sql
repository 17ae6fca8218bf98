{#- A composite primary key: no two rows share the same values of `columns`.
    With `increment_column`, a monthly incremental build checks only the dates it appended
    (macros/incremental.sql); a full build checks every row. -#}
{% test unique_key(model, columns, increment_column=none) %}
select {{ columns | join(', ') }}, count(*) as rows_with_key
from {{ model }}
{%- if increment_column and var('incremental_from') %}
where {{ increment_column }} >= date '{{ var('incremental_from') }}'
{%- endif %}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
