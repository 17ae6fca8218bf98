-- 信用村 / 信用乡 by year (R-T1, R-T2): the reading at the year's last month-end, or at the latest
-- month-end for the current year (is_final = false).
with

titles as (
    select * from {{ ref('int_titles_to_date') }}
),

villages as (
    select * from {{ ref('stg_divisions__villages') }}
),

townships as (
    select distinct
        township_code,
        township_name
    from villages
),

year_end_readings as (
    select
        *,
        month(as_of) = 12 as is_final
    from titles
    qualify as_of = max(as_of) over (partition by scope_level, scope_code, title_year)
),

final as (
    select
        year_end_readings.scope_level,
        year_end_readings.scope_code,
        coalesce(villages.village_name, townships.township_name) as scope_name,
        year_end_readings.township_code,
        year_end_readings.title_year,
        year_end_readings.as_of as evaluated_on,
        year_end_readings.is_final,
        year_end_readings.had_loans_this_year,
        year_end_readings.outstanding_balance,
        year_end_readings.npl_balance,
        {{ exact_ratio('year_end_readings.npl_balance', 'year_end_readings.outstanding_balance') }}
            as npl_rate,
        year_end_readings.holds_title as earned,
        case
            when year_end_readings.scope_level = 'village' then '信用村' else '信用乡'
        end as title
    from year_end_readings
    left join villages
        on year_end_readings.scope_level = 'village' and year_end_readings.scope_code = villages.village_code
    left join townships
        on year_end_readings.scope_level = 'township' and year_end_readings.scope_code = townships.township_code
)

select * from final
order by title_year, scope_level, scope_code
