-- R-B3: on each snapshot date, whether new credit is stopped (停止新增授信) in a village, and why:
-- its village or township breaker was tripped at the latest month-end on or before that date (R-C2;
-- at a month-end, that month-end's own reading). Before the first month-end there is no reading and
-- nothing is stopped. The one home of the credit stop: household_scores (R-C2) and loan_compliance
-- (R-X3, read at the month-end before the disbursement month) read credit_stopped.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_rebuilt('as_of', township='township_code') }}",
) }}


-- depends_on: {{ source('intake', 'touched_townships') }}

with

snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

village_readings as (
    select * from {{ ref('int_village_readings') }}
),

township_readings as (
    select * from {{ ref('int_township_readings') }}
),

villages as (
    select * from {{ ref('stg_divisions__villages') }}
),

readings as (
    select
        villages.village_code,
        villages.township_code,
        snapshots.as_of,
        snapshots.breaker_month_end,
        coalesce(village_readings.tripped, false) as village_tripped,
        coalesce(township_readings.tripped, false) as township_tripped
    from villages
    cross join snapshots
    left join village_readings
        on
            villages.village_code = village_readings.village_code
            and snapshots.breaker_month_end = village_readings.as_of
    left join township_readings
        on
            villages.township_code = township_readings.township_code
            and snapshots.breaker_month_end = township_readings.as_of
    where {{ rebuilt('snapshots.as_of', township='villages.township_code') }}
),

final as (
    select
        village_code,
        township_code,
        as_of,
        village_tripped or township_tripped as credit_stopped,
        case
            when village_tripped and township_tripped then '本村及所在乡镇熔断'
            when village_tripped then '本村熔断'
            when township_tripped then '所在乡镇熔断'
        end as stop_reason,
        -- The month-end whose reading stops credit.
        case when village_tripped or township_tripped then breaker_month_end end as stop_month_end
    from readings
)

select * from final
