-- Every information collection (采集) as collected, with the household's home village (R-B1):
-- names, ID numbers and the facts behind each rule item, for the drill-down ("why is this
-- household 无信用?"), the public-notice list and the credit-household list.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_touched('household_id', 'collected_households') }}",
) }}

-- A monthly build rewrites the households it sent a new collection of: only a new collection adds
-- a row or changes a household's home village (R-B1).
-- depends_on: {{ source('intake', 'collected_households') }}

with

collections as (
    select * from {{ ref('stg_village_teams__households') }}
    where {{ touched('household_id', 'collected_households') }}
),

households as (
    select * from {{ ref('int_households_homed') }}
    where {{ touched('household_id', 'collected_households') }}
),

final as (
    select
        households.village_code,
        households.township_code,
        collections.village_code as collected_village_code,
        collections.* exclude (village_code)  -- noqa: RF02
    from collections
    inner join households on collections.household_id = households.household_id
)

select * from final
order by village_code, household_id, collected_on
