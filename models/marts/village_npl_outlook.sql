-- R-B4 early warning (预警, a dashboard convenience, not in the text), per village of the division
-- list x as_of: the village's NPL rate at the next month-end if nothing is repaid. The loans of
-- loan_npl_outlook (overdue on as_of, past the NPL threshold by then) join the NPL balance; the
-- outstanding balance stays as village_breaker has it (nothing repaid, written off or lent). The
-- projected status is worked out by the breaker's own words (macros/breaker.sql breaker_status,
-- R-B2 line 3%, R-B4 watch 2%): would_trip when the village is not tripped now and would be then,
-- would_watch when it is 正常 now and would be 预警 then.
with

breaker as (
    select * from {{ ref('village_breaker') }}
),

outlook as (
    select * from {{ ref('loan_npl_outlook') }}
),

turning as (
    select
        village_code,
        as_of,
        count(*) as loans_turning_npl,
        sum(outstanding_principal) as npl_balance_turning
    from outlook
    group by village_code, as_of
),

projected as (
    select
        breaker.village_code,
        breaker.village_name,
        breaker.township_code,
        breaker.township_name,
        breaker.as_of,
        breaker.is_month_end,
        cast(last_day(breaker.as_of + 1) as date) as next_month_end,
        breaker.outstanding_balance,
        breaker.npl_balance,
        breaker.npl_rate,
        breaker.status,
        breaker.tripped,
        cast(coalesce(turning.loans_turning_npl, 0) as integer) as loans_turning_npl,
        cast(coalesce(turning.npl_balance_turning, 0) as decimal(18, 2)) as npl_balance_turning,
        cast(breaker.npl_balance + coalesce(turning.npl_balance_turning, 0) as decimal(18, 2))
            as projected_npl_balance
    from breaker
    left join turning
        on
            breaker.village_code = turning.village_code
            and breaker.as_of = turning.as_of
),

final as (
    select
        *,
        {{ exact_ratio('projected_npl_balance', 'outstanding_balance') }} as projected_npl_rate,
        {{ breaker_status('projected_npl_balance', 'outstanding_balance') }} as projected_status,
        not tripped and {{ breaker_status('projected_npl_balance', 'outstanding_balance') }} = '熔断'
            as would_trip,
        status = '正常' and {{ breaker_status('projected_npl_balance', 'outstanding_balance') }} = '预警'
            as would_watch
    from projected
)

select * from final
order by as_of, township_code, village_code
