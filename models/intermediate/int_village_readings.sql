-- The village breaker reading (熔断) at every snapshot date, for every village of the division list:
-- R-B1 NPL rate over the household loans on the book (R-L1) of the village's households (home
-- village), an NPL loan's whole outstanding principal being NPL balance (R-L3); R-B2 tripped when
-- the rate exceeds 3% (exactly 3.00% does not trip); R-B4 预警 above 2% and not above 3%; 无贷款
-- without outstanding balance (no rate, not tripped). Rates are compared exactly:
-- npl * 100 > 3 * outstanding. A reading on a day that is not a month-end (the build's as-of date)
-- is provisional; it is computed the same way.
-- The one home of the village breaker: village_breaker, int_township_readings, int_credit_stops and
-- int_titles_to_date read it.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_rebuilt('as_of', village='village_code') }}",
) }}


-- depends_on: {{ source('intake', 'touched_villages') }}

with

villages as (
    select * from {{ ref('stg_divisions__villages') }}
),

snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

loan_days as (
    select * from {{ ref('int_loan_days') }}
    where is_household_loan and on_book and {{ rebuilt('as_of', village='village_code') }}
),

balances as (
    select
        village_code,
        as_of,
        count(*) as loans_on_book,
        count(distinct borrower_id) as borrowing_households,
        sum(outstanding_principal) as outstanding_balance,
        coalesce(sum(outstanding_principal) filter (where is_overdue), 0) as overdue_balance,
        coalesce(sum(outstanding_principal) filter (where is_npl), 0) as npl_balance
    from loan_days
    group by village_code, as_of
),

grid as (
    select
        villages.village_code,
        villages.village_name,
        villages.township_code,
        villages.township_name,
        snapshots.as_of,
        snapshots.is_month_end,
        cast(coalesce(balances.loans_on_book, 0) as integer) as loans_on_book,
        cast(coalesce(balances.borrowing_households, 0) as integer) as borrowing_households,
        cast(coalesce(balances.outstanding_balance, 0) as decimal(18, 2)) as outstanding_balance,
        cast(coalesce(balances.overdue_balance, 0) as decimal(18, 2)) as overdue_balance,
        cast(coalesce(balances.npl_balance, 0) as decimal(18, 2)) as npl_balance
    from villages
    cross join snapshots
    left join balances
        on
            villages.village_code = balances.village_code
            and snapshots.as_of = balances.as_of
    where {{ rebuilt('snapshots.as_of', village='villages.village_code') }}
),

final as (
    select
        *,
        {{ exact_ratio('npl_balance', 'outstanding_balance') }} as npl_rate,
        {{ breaker_status('npl_balance', 'outstanding_balance') }} as status,
        outstanding_balance > 0
        and {{ rate_exceeds('npl_balance', 'outstanding_balance', var('village_breaker_rate_pct')) }}
            as tripped,
        outstanding_balance > 0
        and {{ rate_exceeds('npl_balance', 'outstanding_balance', var('watch_rate_pct')) }}
        and not {{ rate_exceeds('npl_balance', 'outstanding_balance', var('village_breaker_rate_pct')) }}
            as watch
    from grid
)

select * from final
