-- Why a score item counts: every condition that held in an information collection (采集), in words,
-- with the points it earns or costs (R-S3 add items, R-S4 deduct items, R-S5 registered-poor
-- bonus) and the vetoes it records (R-S6 V1, V2, V4), one row per condition: "A1 +2" is
-- 户主是中共党员 (+1) and 户主身体健康 (+1). item is the household_scores column (a1 … d6,
-- poor_bonus) or the veto code (V1, V2, V4); for every item that depends only on the collection,
-- the points of its conditions add up to household_scores' column for the days that collection is in
-- use (tests/test_why_data.py checks it on the session warehouse). Conditions whose effect depends on
-- the day the score is read carry no points (NULL): D6's enforcement record (its three-year window,
-- R-C3; household_scores.d6 says whether it counts that day) and the dishonest-debtor list. D3 here
-- holds the credit report's counts up to collected_on (R-S7); the loan book's events after it are in
-- household_scores (overdue_events, npl_events), V3's loans in loan_arrears.
-- Also listed with 0 points: an entity of 10万 or more (A4 gives nothing, 不含10万).
-- A view over household_register: the dashboard reads one household's collection at a time.
{{ config(materialized='view') }}

{#- (item, condition that holds, its words, its points): points NULL when they depend on the day. -#}
{%- set conditions = [
    ('a1', is_yes('party_member'), "'户主是中共党员'", var('a1_points_each')),
    ('a1', 'coalesce(education in ' ~ sql_list(var('a1_education_levels')) ~ ', false)',
        "'户主文化程度：' || education", var('a1_points_each')),
    ('a1', is_yes('healthy'), "'户主身体健康'", var('a1_points_each')),
    ('a1', is_yes('military_member'), "'家庭成员服兵役'", var('a1_points_each')),
    ('a2', 'homestead_house_value >= ' ~ var('a2_house_value_min'),
        "format('宅基地自建房估值 {:,.2f} 元（{:,} 元以上）', homestead_house_value, "
        ~ var('a2_house_value_min') ~ ")", var('a2_points')),
    ('a3', 'has_counting_project',
        "'增收创业项目：' || income_project || case when income_project = '务工' then '（有务工证明）' else '' end",
        var('a3_points')),
    ('d1', 'not has_counting_project',
        "case when income_project = '务工' then '务工无证明，不计为增收创业项目' else '无增收创业项目' end",
        '-' ~ var('d1_points')),
    ('a4', is_yes('entity_registered') ~ ' and entity_scale >= ' ~ var('a4_scale_min')
        ~ ' and entity_scale < ' ~ var('a4_scale_below'),
        "format('经营实体合规注册，规模 {:,.2f} 元（{:,} 元以上、不含 {:,} 元）', entity_scale, "
        ~ var('a4_scale_min') ~ ", " ~ var('a4_scale_below') ~ ")", var('a4_points')),
    ('a4', is_yes('entity_registered') ~ ' and entity_scale >= ' ~ var('a4_scale_below'),
        "format('经营实体规模 {:,.2f} 元，达到 {:,} 元，按文件不加分', entity_scale, "
        ~ var('a4_scale_below') ~ ")", 0),
    ('a5', is_yes('forest_cert'), "'有林权证'", var('a5_points_each')),
    ('a5', is_yes('land_cert'), "'有土地承包经营权证'", var('a5_points_each')),
    ('a5', is_yes('homestead_cert'), "'有宅基地证'", var('a5_points_each')),
    ('a6', 'equipment_value >= ' ~ var('a6_high_value_min'),
        "format('有证号生产运输设备估值 {:,.2f} 元（{:,} 元以上）', equipment_value, "
        ~ var('a6_high_value_min') ~ ")", var('a6_high_points')),
    ('a6', 'equipment_value >= ' ~ var('a6_low_value_min') ~ ' and equipment_value < ' ~ var('a6_high_value_min'),
        "format('有证号生产运输设备估值 {:,.2f} 元（{:,} 元以上）', equipment_value, "
        ~ var('a6_low_value_min') ~ ")", var('a6_low_points')),
    ('a7', "honor = '区级及以上'", "'最高荣誉：区级及以上'", var('a7_district_points')),
    ('a7', "honor = '乡级'", "'最高荣誉：乡级'", var('a7_township_points')),
    ('a7', "honor = '村级'", "'最高荣誉：村级'", var('a7_village_points')),
    ('a8', is_yes('family_harmonious'), "'家庭和睦'", var('a8_points_each')),
    ('a8', is_yes('neighbor_harmonious'), "'邻里和谐'", var('a8_points_each')),
    ('a9', 'urban_property_75 > 0', "format('城区房产（75平方米以上）{} 处', urban_property_75)",
        var('a9_large_points_each') ~ ' * urban_property_75'),
    ('a9', 'urban_property_50 > 0', "format('城区房产（50至75平方米）{} 处', urban_property_50)",
        var('a9_small_points_each') ~ ' * urban_property_50'),
    ('a10', is_yes('commercial_insurance'), "'有商业保险在保'", var('a10_points')),
    ('d2', is_no('family_harmonious'), "'家庭不和睦'", '-' ~ var('d2_points_each')),
    ('d2', is_no('neighbor_harmonious'), "'邻里不和谐'", '-' ~ var('d2_points_each')),
    ('d2', 'petitions_12m > 0', "format('采集前12个月内非法上访 {} 次', petitions_12m)",
        '-' ~ var('d2_points_each') ~ ' * petitions_12m'),
    ('d3', 'credit_overdue_count > 0', "format('征信报告逾期 {} 次（截至采集日）', credit_overdue_count)",
        '-' ~ var('d3_overdue_points') ~ ' * credit_overdue_count'),
    ('d3', 'credit_npl_count > 0', "format('征信报告不良 {} 次（截至采集日）', credit_npl_count)",
        '-' ~ var('d3_npl_points') ~ ' * credit_npl_count'),
    ('d4', 'guarantee_amount >= ' ~ var('d4_high_min'),
        "format('对外担保 {:,.2f} 元（{:,} 元以上）', guarantee_amount, " ~ var('d4_high_min') ~ ")",
        '-' ~ var('d4_high_points')),
    ('d4', 'guarantee_amount >= ' ~ var('d4_mid_min') ~ ' and guarantee_amount < ' ~ var('d4_high_min'),
        "format('对外担保 {:,.2f} 元（{:,} 元以上）', guarantee_amount, " ~ var('d4_mid_min') ~ ")",
        '-' ~ var('d4_mid_points')),
    ('d4', 'guarantee_amount > 0 and guarantee_amount < ' ~ var('d4_mid_min'),
        "format('对外担保 {:,.2f} 元', guarantee_amount)", '-' ~ var('d4_low_points')),
    ('d5', 'mortgage_amount >= ' ~ var('d5_mortgage_min'),
        "format('对外抵押 {:,.2f} 元（{:,} 元以上）', mortgage_amount, " ~ var('d5_mortgage_min') ~ ")",
        '-' ~ var('d5_points')),
    ('d6', is_yes('dishonest_debtor'), "'失信被执行人'", 'null'),
    ('d6', 'enforcement_ended_on is not null',
        "'被执行记录于 ' || strftime(enforcement_ended_on, '%Y年%-m月%-d日') || ' 结束'", 'null'),
    ('poor_bonus', is_yes('registered_poor'), "'建档立卡贫困户'", var('poor_bonus')),
    ('poor_bonus', 'not ' ~ is_yes('registered_poor') ~ ' and ' ~ is_yes('poverty_exited'),
        "'建档立卡已脱贫户'", var('poor_bonus')),
    ('V1', is_yes('vice_record'), "'户主或家庭成员有黄赌毒记录'", 'null'),
    ('V2', is_yes('under_enforcement'), "'户主或家庭成员当前被执行'", 'null'),
    ('V2', is_yes('dishonest_debtor'), "'户主或家庭成员为失信被执行人'", 'null'),
    ('V4', is_yes('guarantee_overdue'), "'所担保的贷款当前逾期'", 'null'),
] -%}

with

collections as (
    select * from {{ ref('household_register') }}
),

facts as (
    select
        *,
        -- R-S3 A3: an income project counts; 务工 (migrant work) only with proof.
        income_project <> '无'
        and (income_project <> '务工' or {{ is_yes('work_proof') }}) as has_counting_project
    from collections
),

found as (
    select
        household_id,
        collected_on,
        village_code,
        township_code,
        -- noqa: disable=LT02,LT05
        [
            {%- for item, holds, words, points in conditions %}
            case when {{ holds }} then {
                'condition_no': {{ loop.index }},
                'item': '{{ item }}',
                'condition': {{ words }},
                'points': cast({{ points }} as integer)
            } end{% if not loop.last %},{% endif %}
            {%- endfor %}
        ] as held
        -- noqa: enable=LT02,LT05
    from facts
),

one_per_row as (
    select
        household_id,
        collected_on,
        village_code,
        township_code,
        unnest(list_filter(held, lambda condition: condition is not null)) as held_condition
    from found
),

final as (
    select
        one_per_row.household_id,
        one_per_row.collected_on,
        one_per_row.village_code,
        one_per_row.township_code,
        one_per_row.held_condition.condition_no,
        one_per_row.held_condition.item,
        one_per_row.held_condition.condition,
        one_per_row.held_condition.points
    from one_per_row
)

select * from final
