-- R-C2 / R-B3: on each snapshot date, whether new credit is stopped in a village: its village or
-- township breaker was tripped at the latest month-end on or before that date. Before the first
-- month-end there is no reading and nothing is stopped.
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

village_breaker as (
    select * from {{ ref('village_breaker') }}
),

township_breaker as (
    select * from {{ ref('township_breaker') }}
),

villages as (
    select * from {{ ref('stg_divisions__villages') }}
),

final as (
    select
        villages.village_code,
        villages.township_code,
        snapshots.as_of,
        coalesce(village_breaker.tripped or township_breaker.tripped, false) as credit_stopped
    from villages
    cross join snapshots
    left join village_breaker
        on
            villages.village_code = village_breaker.village_code
            and snapshots.breaker_month_end = village_breaker.as_of
    left join township_breaker
        on
            villages.township_code = township_breaker.township_code
            and snapshots.breaker_month_end = township_breaker.as_of
    where {{ rebuilt('snapshots.as_of', township='villages.township_code') }}
)

select * from final
