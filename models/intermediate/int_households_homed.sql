-- R-B1: a household belongs to the village of its latest information collection in the data,
-- for every date (also before that collection, and whether or not it is rated then).
with

collections as (
    select * from {{ ref('stg_village_teams__households') }}
),

villages as (
    select * from {{ ref('stg_divisions__villages') }}
),

homes as (
    select
        household_id,
        arg_max(village_code, collected_on) as village_code,
        min(collected_on) as first_collected_on,
        max(collected_on) as last_collected_on,
        count(*) as collections
    from collections
    group by household_id
),

final as (
    select
        homes.household_id,
        homes.village_code,
        villages.village_name,
        villages.township_code,
        villages.township_name,
        homes.first_collected_on,
        homes.last_collected_on,
        homes.collections
    from homes
    inner join villages on homes.village_code = villages.village_code
)

select * from final
