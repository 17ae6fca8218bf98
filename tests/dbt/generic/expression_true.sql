{#- Every row satisfies a boolean SQL expression (an invariant of the policy). -#}
{% test expression_true(model, expression) %}
select *
from {{ model }}
where not coalesce({{ expression }}, false)
{% endtest %}
