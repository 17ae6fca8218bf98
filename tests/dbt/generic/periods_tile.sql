{#- Each key's periods [valid_from, valid_until) tile its history: every period is at least a day
    long, and their lengths add up to the span from the first start to the open end (9999-12-31). So
    no two periods of a key overlap (a repeated start among them) and none is missing — checked with
    one group per key, not one per (key, start). `expression`: a row invariant checked in the same
    pass. `touched_table`: in a monthly incremental build only the keys the month touched (the rows
    it rewrote; macros/incremental.sql), as in unique_key. -#}
{% test periods_tile(model, key, valid_from, valid_until, expression='true', touched_table=none) %}
select
    {{ key }},
    count(*) as periods
from {{ model }}
{%- if touched_table and var('incremental_from') %}
where {{ key }} in (
    select touched.{{ touched_table_key(touched_table) }}
    from {{ source('intake', touched_table) }} as touched
)
{%- endif %}
group by {{ key }}
having not coalesce(
    bool_and({{ valid_from }} < {{ valid_until }} and ({{ expression }}))
    and max({{ valid_until }}) = date '9999-12-31'
    and sum({{ valid_until }} - {{ valid_from }}) = max({{ valid_until }}) - min({{ valid_from }}),
    false
)
{% endtest %}
