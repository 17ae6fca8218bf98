{#- One row per member of a population on every snapshot date from the day it joins: on each
    snapshot date the model's rows are the members whose `population_from` is on or before that date,
    each once. Compared per date by count and by a checksum of the keys (a sum of their hashes), so
    a duplicated, missing or foreign key fails without grouping every row by its key. With
    `increment_column`, a monthly incremental build checks only the dates it appended. -#}
{% test one_row_per_member(
    model, key, date_column, population, population_key, population_from, increment_column=none
) %}
{%- set from_date = var('incremental_from') if increment_column else none -%}
with

snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

snapshot_range as (
    {{ snapshot_range('snapshots') }}
),

model_dates as (
    select
        {{ date_column }} as as_of,
        count(*) as model_rows,
        sum(hash({{ key }})) as model_checksum
    from {{ model }}
    {%- if from_date %}
    where {{ increment_column }} >= date '{{ from_date }}'
    {%- endif %}
    group by {{ date_column }}
),

joining as (
    select
        {{ first_snapshot_on_or_after('members.' ~ population_from) }} as snapshot_index,
        count(*) as members,
        sum(hash(members.{{ population_key }})) as checksum
    from {{ population }} as members
    cross join snapshot_range
    group by all
),

member_dates as (
    select
        snapshots.as_of,
        sum(joining.members) as member_rows,
        sum(joining.checksum) as member_checksum
    from snapshots
    inner join joining on joining.snapshot_index <= snapshots.snapshot_index
    {%- if from_date %}
    where snapshots.as_of >= date '{{ from_date }}'
    {%- endif %}
    group by snapshots.as_of
)

select
    coalesce(model_dates.as_of, member_dates.as_of) as as_of,
    coalesce(model_dates.model_rows, 0) as model_rows,
    coalesce(member_dates.member_rows, 0) as member_rows
from model_dates
full outer join member_dates on model_dates.as_of = member_dates.as_of
where
    coalesce(model_dates.model_rows, 0) <> coalesce(member_dates.member_rows, 0)
    or coalesce(model_dates.model_checksum, 0) <> coalesce(member_dates.member_checksum, 0)
{% endtest %}
