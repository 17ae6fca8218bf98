-- Contract mart: the village breaker (熔断) at every snapshot date, for every village of the
-- division list (R-B1, R-B2, R-B4), as int_village_readings computes it, with the change of status
-- since the previous month-end (the last month-end before as_of's month) that the dashboard lists:
-- 新增熔断 (tripped now, not then), 新增预警 (预警 now, 正常 or 无贷款 then), 解除熔断 (tripped then,
-- not now; R-B3 the stop lifts). A reading on a day that is not a month-end (the build's as-of date)
-- is provisional (is_month_end = false); it is computed the same way.
-- Why a village trips, for the dashboard and the monthly briefing: tripped_since, the first reading
-- of the current run of tripped readings (R-B3: the stop lasts until a month-end is no longer
-- tripped), and how much NPL principal must be recovered or written off to fall back to the breaker
-- line (R-B2) and to the watch line (R-B4), see macros/breaker.sql npl_to_clear.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_rebuilt('as_of', village='village_code') }}",
) }}


-- depends_on: {{ source('intake', 'touched_villages') }}

with

readings as (
    select * from {{ ref('int_village_readings') }}
    where {{ rebuilt('as_of', village='village_code') }}
),

-- Every reading, for the previous month-end of the rebuilt ones.
all_readings as (
    select * from {{ ref('int_village_readings') }}
),

-- R-B3: a run of tripped readings starts after the last reading that was not tripped. Readings are
-- the month-ends and, last, the build's provisional as-of date.
runs as (
    select
        village_code,
        as_of,
        tripped,
        count(*) filter (where not tripped) over (
            partition by village_code order by as_of rows unbounded preceding
        ) as run_number
    from all_readings
),

run_starts as (
    select
        village_code,
        as_of,
        case
            when tripped
                then min(as_of) filter (where tripped) over (partition by village_code, run_number)
        end as tripped_since
    from runs
),

compared as (
    select
        readings.*,
        previous.as_of as previous_month_end,
        previous.status as previous_status,
        previous.npl_rate as previous_npl_rate,
        case
            when readings.tripped and not previous.tripped then '新增熔断'
            when readings.watch and previous.status in ('正常', '无贷款') then '新增预警'
            when previous.tripped and not readings.tripped then '解除熔断'
        end as status_change,
        run_starts.tripped_since,
        {{ npl_to_clear('readings.npl_balance', 'readings.outstanding_balance', var('village_breaker_rate_pct')) }}
            as npl_to_clear_breaker,
        {{ npl_to_clear('readings.npl_balance', 'readings.outstanding_balance', var('watch_rate_pct')) }}
            as npl_to_clear_watch
    from readings
    left join all_readings as previous
        on
            readings.village_code = previous.village_code
            and previous.as_of = cast(date_trunc('month', readings.as_of) - interval 1 day as date)
    left join run_starts
        on
            readings.village_code = run_starts.village_code
            and readings.as_of = run_starts.as_of
)

select * from compared
order by as_of, township_code, village_code
