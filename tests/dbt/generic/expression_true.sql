{#- Every row satisfies a boolean SQL expression (an invariant of the policy).
    With `increment_column`, a monthly incremental build checks only the dates it appended. -#}
{% test expression_true(model, expression, increment_column=none) %}
select *
from {{ model }}
where not coalesce({{ expression }}, false)
{%- if increment_column and var('incremental_from') %}
and {{ increment_column }} >= date '{{ var('incremental_from') }}'
{%- endif %}
{% endtest %}
