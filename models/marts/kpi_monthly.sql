-- Contract mart: the leading group's figures for the whole district and for each township at
-- every snapshot date, added up from kpi_village_monthly's village sums (R-G1: village -> township
-- -> district), with the township's own breaker (R-B2) and title (R-T2), and every ratio through
-- the same macro as the villages' (macros/kpi.sql): credit figures (R-C1, R-C2), the household loan
-- book and its overdue and NPL rates (R-L3, R-B1; the breaker is over household loans), entity
-- loans (R-M2), breakers (R-B2), titles (R-T1, R-T2), and the money flows (R-M1..R-M5). Amounts in
-- 元. The R-M2 subsidy and the R-M5 fund are worked out per township; the district adds them up.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_rebuilt_kpi() }}",
) }}


-- depends_on: {{ source('intake', 'touched_townships') }}

with

-- The district's dates being rebuilt, for every township (a township's own rows may be rebuilt on
-- more dates: macros/incremental.sql).
villages as (
    select * from {{ ref('kpi_village_monthly') }}
    {%- if is_monthly_increment() and not var('incremental_townships') %}
    where as_of >= date '{{ var('incremental_from') }}'  -- noqa: LT02
    {%- endif %}
),

township_readings as (
    select * from {{ ref('int_township_readings') }}
),

titles as (
    select * from {{ ref('int_titles_to_date') }}
    where scope_level = 'township'
),

snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

township_sums as (
    select
        township_code,
        as_of,
        {%- for column in kpi_village_sums() %}
            sum({{ column }}) as {{ column }},
        {%- endfor %}
        any_value(is_month_end) as is_month_end
    from villages
    group by township_code, as_of
),

all_township_rows as (
    select
        'township' as scope_level,
        township_sums.township_code as scope_code,
        township_readings.township_name as scope_name,
        township_sums.*,
        {{ guarantee_fund_of('township_sums.entity_amount_on_book') }} as guarantee_fund_balance,
        {{ entity_subsidy_of('township_sums.entity_principal_days_in_month') }}
            as entity_interest_subsidy_in_month,
        1 as townships_total,
        cast(coalesce(township_readings.tripped, false) as integer) as townships_tripped,
        -- R-T2 as known at the latest month-end on or before as_of, for that month-end's year.
        titles.title_year,
        cast(coalesce(titles.holds_title, false) as integer) as credit_townships
    from township_sums
    inner join snapshots on township_sums.as_of = snapshots.as_of
    left join township_readings
        on
            township_sums.township_code = township_readings.township_code
            and township_sums.as_of = township_readings.as_of
    left join titles
        on
            township_sums.township_code = titles.scope_code
            and snapshots.breaker_month_end = titles.as_of
),

township_rows as (
    select * from all_township_rows
    where {{ rebuilt('as_of', township='scope_code') }}
),

district_rows as (
    select
        'district' as scope_level,
        '{{ var('district_code') }}' as scope_code,
        '{{ var('district_name') }}' as scope_name,
        as_of,
        any_value(is_month_end) as is_month_end,
        {%- for column in kpi_village_sums() + [
            'guarantee_fund_balance', 'entity_interest_subsidy_in_month', 'townships_total',
            'townships_tripped', 'credit_townships'] %}
            sum({{ column }}) as {{ column }},
        {%- endfor %}
        max(title_year) as title_year
    from all_township_rows
    group by as_of
),

all_rows as (
    select * from district_rows
    union all by name
    select * from township_rows
),

final as (
    select
        scope_level,
        scope_code,
        scope_name,
        as_of,
        is_month_end,
        {{ kpi_columns() }}
    from all_rows
)

select * from final
order by as_of, scope_level, scope_code
