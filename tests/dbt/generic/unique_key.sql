{#- A composite primary key: no two rows share the same values of `columns`.
    A monthly incremental build (macros/incremental.sql) checks only the rows it wrote; a full build
    checks every row:
    - `increment_column` (a per-date model): the dates from incremental_from on;
    - `touched_column` / `touched_table` (a per-key model, or a raw table the intake patched by key):
      the rows of the keys the month touched, e.g. loan_id in raw.touched_loans. Every other row is
      as the published warehouse had it, where this test passed; the intake keeps raw keys unique
      across deliveries (a later row replaces an earlier one with its key), so a key the month wrote
      can only repeat among the rows the month wrote. -#}
{% test unique_key(model, columns, increment_column=none, touched_column=none, touched_table=none) %}
select {{ columns | join(', ') }}, count(*) as rows_with_key
from {{ model }}
{%- if increment_column and var('incremental_from') %}
where {{ increment_column }} >= date '{{ var('incremental_from') }}'
{%- elif touched_column and var('incremental_from') %}
where {{ touched_column }} in (
    select touched.{{ touched_table_key(touched_table) }}
    from {{ source('intake', touched_table) }} as touched
)
{%- endif %}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
