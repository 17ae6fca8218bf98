-- R-T1 / R-T2 as known at each month-end M: a village (township) holds the title for year(M) so
-- far when it had household loans on the book at some month-end of that year up to M, and its NPL
-- rate at M is not above 3%. The title of a year is the reading at its last month-end (or at the
-- latest month-end, for the current year).
-- Reading chosen: a village that lent during the year but has no outstanding balance at the
-- evaluated month-end has no NPL and so is not above the line: it earns the title.
with

village_readings as (
    select * from {{ ref('int_village_readings') }}
    where is_month_end
),

township_readings as (
    select * from {{ ref('int_township_readings') }}
    where is_month_end
),

scoped_village_readings as (
    select
        'village' as scope_level,
        village_code as scope_code,
        township_code,
        as_of,
        outstanding_balance,
        npl_balance
    from village_readings
),

scoped_township_readings as (
    select
        'township' as scope_level,
        township_code as scope_code,
        township_code,
        as_of,
        outstanding_balance,
        npl_balance
    from township_readings
),

readings as (
    select * from scoped_village_readings
    union all
    select * from scoped_township_readings
),

year_to_date as (
    select
        *,
        cast(year(as_of) as integer) as title_year,
        bool_or(outstanding_balance > 0) over (
            partition by scope_level, scope_code, year(as_of)
            order by as_of
            rows unbounded preceding
        ) as had_loans_this_year
    from readings
),

final as (
    select
        *,
        had_loans_this_year
        and not {{ rate_exceeds('npl_balance', 'outstanding_balance', var('title_rate_pct')) }}
            as holds_title
    from year_to_date
)

select * from final
