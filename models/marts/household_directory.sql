-- One row per household for the district-wide search (找人): the head's name and ID number as of
-- its latest information collection, and its home village and township (R-B1: the village of the
-- latest collection). A narrow table of 1,000,000 rows at most, sorted by name, so that a search by
-- name, household id or ID number scans a few columns instead of every collection of
-- household_register. Grades are read from household_scores for the few households found. Indexes
-- on household_id and on the ID number find a household by either without a scan; head_id_tail
-- (the last six characters of the ID number) serves searches by the last digits.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_touched('household_id', 'collected_households') }}",
    post_hook=[
        "create index if not exists household_directory_household_id on {{ this }} (household_id)",
        "create index if not exists household_directory_id_number on {{ this }} (head_id_number)",
    ],
) }}

-- A monthly build rewrites the households it sent a new collection of: no other change reaches a
-- row here, and every row rewritten costs index upkeep (61,000 touched households at 1M, against
-- 25,000 with a new collection, took 5.0 CPU-s instead of 1.1).
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

latest as (
    select
        household_id,
        arg_max(head_name, collected_on) as head_name,
        arg_max(head_id_number, collected_on) as head_id_number
    from collections
    group by household_id
),

final as (
    select
        latest.household_id,
        latest.head_name,
        latest.head_id_number,
        right(latest.head_id_number, 6) as head_id_tail,
        households.village_code,
        households.village_name,
        households.township_code,
        households.township_name,
        households.first_collected_on,
        households.last_collected_on
    from latest
    inner join households on latest.household_id = households.household_id
)

select * from final
order by head_name, household_id
