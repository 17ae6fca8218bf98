-- Contract mart: the township breaker at every snapshot date (R-B2), as int_township_readings
-- computes it: tripped when the villages tripped are at least 30% of all its administrative villages
-- in the division list (with loans or not), compared exactly: tripped * 100 >= 30 * total. With the
-- labels the dashboard shows: status (熔断 / 正常) and the distance to the share line (line_note).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_rebuilt('as_of', township='township_code') }}",
) }}


-- depends_on: {{ source('intake', 'touched_townships') }}

with

readings as (
    select * from {{ ref('int_township_readings') }}
    where {{ rebuilt('as_of', township='township_code') }}
),

final as (
    select
        *,
        case when tripped then '熔断' else '正常' end as status,
        case
            when tripped then '乡镇已熔断'
            else '再有' || villages_to_trip || '个村熔断即触发乡镇熔断'
        end as line_note
    from readings
)

select * from final
order by as_of, township_code
