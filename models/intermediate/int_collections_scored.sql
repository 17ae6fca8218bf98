-- The points of every rule item that depends only on what was collected (R-S3, R-S4, R-S5),
-- one row per collection. Items that depend on the evaluation date D — D3's loan-book events
-- (R-S7), D6's three-year window (R-C3) and the vetoes V3 — are added in
-- int_household_scores_evaluated. Deductions are stored as negative points.
-- An empty (unknown) boolean or amount earns and costs nothing (DATA_CONTRACT).
-- A view: the household timeline reads it once (in a monthly build, the touched households only).
{{ config(materialized='view') }}

with

collections as (
    select * from {{ ref('stg_village_teams__households') }}
),

facts as (
    select
        *,
        -- R-S3 A3: an income project counts; 务工 (migrant work) only with proof.
        income_project <> '无'
        and (income_project <> '务工' or {{ is_yes('work_proof') }}) as has_counting_project,
        -- R-S5: a 建档立卡 household, including one that has exited poverty.
        {{ is_yes('registered_poor') }} or {{ is_yes('poverty_exited') }} as is_registered_poor
    from collections
),

scored as (
    select
        household_id,
        collected_on,
        village_code as collected_village_code,
        is_registered_poor as registered_poor,
        -- R-S3 A1 户主信息: +1 each for CPC member, 大专 or higher, healthy, a member in the military.
        {{ var('a1_points_each') }} * (
            cast({{ is_yes('party_member') }} as integer)
            + cast(coalesce(education in {{ sql_list(var('a1_education_levels')) }}, false) as integer)
            + cast({{ is_yes('healthy') }} as integer)
            + cast({{ is_yes('military_member') }} as integer)
        ) as a1,
        -- R-S3 A2 农户房产: self-built house appraised at 20万以上 (>= 200,000 元).
        case
            when homestead_house_value >= {{ var('a2_house_value_min') }} then {{ var('a2_points') }}
            else 0
        end as a2,
        -- R-S3 A3 创业信息.
        case when has_counting_project then {{ var('a3_points') }} else 0 end as a3,
        -- R-S3 A4 经营实体: registered with a fixed site, scale 5万以上10万以下 (不含10万).
        case
            when
                {{ is_yes('entity_registered') }}
                and entity_scale >= {{ var('a4_scale_min') }}
                and entity_scale < {{ var('a4_scale_below') }}
                then {{ var('a4_points') }}
            else 0
        end as a4,
        -- R-S3 A5 权属信息: +1 for each of 林权证, 土地承包经营权证, 宅基地证 (at most +3).
        {{ var('a5_points_each') }} * (
            cast({{ is_yes('forest_cert') }} as integer)
            + cast({{ is_yes('land_cert') }} as integer)
            + cast({{ is_yes('homestead_cert') }} as integer)
        ) as a5,
        -- R-S3 A6 生产及运输设备: registered equipment, total value >= 100,000 / >= 50,000.
        case
            when equipment_value >= {{ var('a6_high_value_min') }} then {{ var('a6_high_points') }}
            when equipment_value >= {{ var('a6_low_value_min') }} then {{ var('a6_low_points') }}
            else 0
        end as a6,
        -- R-S3 A7 荣誉: the highest honour only (not cumulative).
        case honor
            when '区级及以上' then {{ var('a7_district_points') }}
            when '乡级' then {{ var('a7_township_points') }}
            when '村级' then {{ var('a7_village_points') }}
            else 0
        end as a7,
        -- R-S3 A8 和谐社会: family harmonious +1, neighbours harmonious +1.
        {{ var('a8_points_each') }} * (
            cast({{ is_yes('family_harmonious') }} as integer)
            + cast({{ is_yes('neighbor_harmonious') }} as integer)
        ) as a8,
        -- R-S3 A9 城区房产: +2 per property of >= 75 m2, +1 per property of 50-75 m2 (no cap).
        {{ var('a9_large_points_each') }} * coalesce(urban_property_75, 0)
        + {{ var('a9_small_points_each') }} * coalesce(urban_property_50, 0) as a9,
        -- R-S3 A10 保险: commercial insurance in force, once.
        case when {{ is_yes('commercial_insurance') }} then {{ var('a10_points') }} else 0 end as a10,
        -- R-S4 D1 增收创业: no income project that counts under A3.
        case when has_counting_project then 0 else -{{ var('d1_points') }} end as d1,
        -- R-S4 D2 和谐社会: family / neighbours not harmonious, each illegal petition in the
        -- 12 months before collected_on (as collected).
        -{{ var('d2_points_each') }} * (
            cast({{ is_no('family_harmonious') }} as integer)
            + cast({{ is_no('neighbor_harmonious') }} as integer)
            + coalesce(petitions_12m, 0)
        ) as d2,
        -- R-S4 D4 对外担保: >= 300,000 -10; >= 200,000 -8; > 0 -5.
        case
            when guarantee_amount >= {{ var('d4_high_min') }} then -{{ var('d4_high_points') }}
            when guarantee_amount >= {{ var('d4_mid_min') }} then -{{ var('d4_mid_points') }}
            when guarantee_amount > 0 then -{{ var('d4_low_points') }}
            else 0
        end as d4,
        -- R-S4 D5 对外抵押: pledged or mortgaged for others >= 50,000.
        case
            when mortgage_amount >= {{ var('d5_mortgage_min') }} then -{{ var('d5_points') }}
            else 0
        end as d5,
        -- R-S5 一加分.
        case when is_registered_poor then {{ var('poor_bonus') }} else 0 end as poor_bonus,
        -- R-S7: overdue / NPL events from the credit report, up to collected_on.
        coalesce(credit_overdue_count, 0) as credit_overdue_count,
        coalesce(credit_npl_count, 0) as credit_npl_count,
        -- R-S4 D6 and R-S6 V2 inputs (D6's window depends on D).
        enforcement_ended_on,
        -- R-C3: the last day D on which the record still counts, i.e. the last D whose same
        -- calendar day three years earlier (29 February -> 28 February) is not after the end.
        -- Three years after the end, or one day more when that day still maps back onto the end
        -- (a record that ended on 28 February 2021 counts on 29 February 2024).
        case
            when
                cast(
                    cast(enforcement_ended_on + interval {{ var('enforcement_lookback_years') }} year as date)
                    + 1 - interval {{ var('enforcement_lookback_years') }} year as date
                ) <= enforcement_ended_on
                then cast(enforcement_ended_on + interval {{ var('enforcement_lookback_years') }} year as date) + 1
            else cast(enforcement_ended_on + interval {{ var('enforcement_lookback_years') }} year as date)
        end as enforcement_counts_until,
        {{ is_yes('dishonest_debtor') }} as is_dishonest_debtor,
        -- R-S6 vetoes known at collection (an empty veto field does not veto).
        {{ is_yes('vice_record') }} as veto_v1_vice,
        {{ is_yes('under_enforcement') }} or {{ is_yes('dishonest_debtor') }} as veto_v2_enforcement,
        {{ is_yes('guarantee_overdue') }} as veto_v4_guarantee
    from facts
),

final as (
    select
        *,
        a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10
        + d1 + d2 + d4 + d5 + poor_bonus as collected_points,
        -- R-S1: this collection is the latest one from collected_on until the next collection.
        coalesce(
            lead(collected_on) over (partition by household_id order by collected_on),
            date '9999-12-31'
        ) as valid_until
    from scored
)

select * from final
