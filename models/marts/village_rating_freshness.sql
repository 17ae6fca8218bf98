-- How fresh the ratings of each village are, for every village of the division list x as_of (R-G1):
-- rated households (R-S1) and those whose collection in use is older than the policy's
-- stale_collection_months (household_scores.rating_stale, a dashboard flag: the village team is due
-- to update them), their share, and the oldest collection in use.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_rebuilt('as_of', village='village_code') }}",
) }}

-- A monthly build in which households moved rebuilds, on the earlier dates, the villages they left
-- and joined: only their rated households changed.
-- depends_on: {{ source('intake', 'touched_villages') }}

with

villages as (
    select * from {{ ref('stg_divisions__villages') }}
),

snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

-- Each part of the rebuilt rows by itself, so that its filter reaches the scan of the 100M rows.
scores as (
    {{ select_rebuilt(ref('household_scores'), 'as_of', village='village_code') }}
),

counted as (
    select
        village_code,
        as_of,
        count(*) as households_rated,
        count(*) filter (where rating_stale) as households_rating_stale,
        min(collected_on) as oldest_collected_on
    from scores
    group by village_code, as_of
),

final as (
    select
        villages.village_code,
        villages.village_name,
        villages.township_code,
        villages.township_name,
        snapshots.as_of,
        snapshots.is_month_end,
        cast(coalesce(counted.households_rated, 0) as integer) as households_rated,
        cast(coalesce(counted.households_rating_stale, 0) as integer) as households_rating_stale,
        {{ exact_ratio('coalesce(counted.households_rating_stale, 0)', 'coalesce(counted.households_rated, 0)') }}
            as rating_stale_share,
        counted.oldest_collected_on
    from villages
    cross join snapshots
    left join counted
        on
            villages.village_code = counted.village_code
            and snapshots.as_of = counted.as_of
    where {{ rebuilt('snapshots.as_of', village='villages.village_code') }}
)

select * from final
order by as_of, township_code, village_code
