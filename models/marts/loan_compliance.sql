-- Compliance checks of every loan disbursed up to the as-of date (R-X1..R-X5). A loan that breaks
-- a rule is flagged, never dropped. R-X1 / R-X2 judge the household on its disbursement day itself:
-- its score and grade as of that day (int_household_scores_evaluated, eval_kind 'disbursement':
-- R-S1 the latest collection on or before the day, its vetoes and D3 events as of the day; unrated
-- counts as 无信用 with limit 0) and its outstanding principal on the book that day, the new loan
-- included (the household timeline's period containing the day: a disbursement starts one).
-- R-X3 reads the credit stop (int_credit_stops, R-B3) at the month-end before the disbursement month.
-- A monthly build judges again only the loans its delivery can have changed (macros/incremental.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_rejudged_loans() }}",
) }}

-- depends_on: {{ source('intake', 'touched_loans') }}
-- depends_on: {{ source('intake', 'touched_households') }}
-- depends_on: {{ source('intake', 'touched_townships') }}

with

loans as (
    select * from {{ ref('int_loans_summarised') }}
    where {{ rejudged_loans('loan_id', 'borrower_id', 'disbursed_on', 'township_code') }}
),

snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

scores as (
    select * from {{ ref('int_household_scores_evaluated') }}
    where eval_kind = 'disbursement'
),

timeline as (
    select * from {{ ref('int_household_timeline') }}
),

stops as (
    select * from {{ ref('int_credit_stops') }}
),

disbursed as (
    select
        *,
        -- R-B3: a breaker tripped at month-end M stops new credit during the following month.
        cast(date_trunc('month', disbursed_on) - interval 1 day as date) as previous_month_end
    from loans
    where disbursed_on <= (select max(snapshots.as_of) from snapshots)
),

-- R-X2: the household's outstanding principal on the book (R-L1, R-C2) at the end of the
-- disbursement day, the new loan included.
household_outstanding as (
    select
        disbursed.loan_id,
        timeline.outstanding_principal as outstanding_with_new_loan
    from disbursed
    inner join timeline
        on
            disbursed.borrower_id = timeline.household_id
            and disbursed.disbursed_on >= timeline.valid_from
            and disbursed.disbursed_on < timeline.valid_until
    where disbursed.is_household_loan
),

judged as (
    select
        disbursed.*,
        scores.score as household_score,
        scores.registered_poor as household_registered_poor,
        case when disbursed.is_household_loan then coalesce(scores.grade, '未评级') end as household_grade,
        -- R-C1: unrated or 无信用, no credit.
        case when disbursed.is_household_loan then coalesce(scores.credit_limit, 0) end as household_limit,
        cast(household_outstanding.outstanding_with_new_loan as decimal(18, 2)) as outstanding_with_new_loan,
        coalesce(stops.credit_stopped, false) as stopped_in_month,
        stops.stop_reason
    from disbursed
    left join scores
        on
            disbursed.is_household_loan
            and disbursed.borrower_id = scores.household_id
            and disbursed.disbursed_on = scores.as_of
    left join household_outstanding on disbursed.loan_id = household_outstanding.loan_id
    left join stops
        on
            disbursed.village_code = stops.village_code
            and disbursed.previous_month_end = stops.as_of
),

checked as (
    select
        loan_id,
        borrower_type,
        borrower_id,
        village_code,
        township_code,
        amount,
        disbursed_on,
        maturity_on,
        annual_rate,
        benchmark_rate,
        household_score as score_on_disbursement,
        household_grade as grade_on_disbursement,
        household_limit as credit_limit_on_disbursement,
        coalesce(household_registered_poor, false) as registered_poor_on_disbursement,
        outstanding_with_new_loan,
        previous_month_end as breaker_month_end,
        case when is_household_loan and stopped_in_month then stop_reason end as breaker_stop_reason,
        -- R-X1: unrated or 无信用 on the disbursement day.
        is_household_loan
        and household_grade in ('未评级', '{{ var('no_credit_grade') }}') as x1_no_credit,
        -- R-X2: outstanding including the new loan exceeds the grade's limit (strictly).
        is_household_loan and outstanding_with_new_loan > household_limit as x2_over_limit,
        -- R-X3: disbursed in a month when the village or township breaker was tripped.
        is_household_loan and stopped_in_month as x3_breaker,
        -- R-X4: term over 36 months.
        maturity_on > cast(disbursed_on + interval {{ var('max_term_months') }} month as date) as x4_term,
        -- R-X5: rate above the benchmark for a registered-poor household (R-M1), above the
        -- benchmark x 1.10 for an entity (R-M2).
        case
            when borrower_type = '经营主体'
                then annual_rate * 100 > benchmark_rate * (100 + {{ var('entity_rate_markup_pct') }})
            when coalesce(household_registered_poor, false)
                then annual_rate > benchmark_rate
            else false
        end as x5_rate
    from judged
),

final as (
    select
        *,
        (case when x1_no_credit then ['R-X1'] else cast([] as varchar[]) end)
        || (case when x2_over_limit then ['R-X2'] else cast([] as varchar[]) end)
        || (case when x3_breaker then ['R-X3'] else cast([] as varchar[]) end)
        || (case when x4_term then ['R-X4'] else cast([] as varchar[]) end)
        || (case when x5_rate then ['R-X5'] else cast([] as varchar[]) end) as flags
    from checked
)

select * from final
order by disbursed_on, loan_id
