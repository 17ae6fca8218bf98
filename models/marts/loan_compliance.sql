-- Compliance checks of every loan disbursed up to the as-of date (R-X1..R-X5). A loan that breaks
-- a rule is flagged, never dropped. Household checks judge the household on its disbursement day.
with

loans as (
    select * from {{ ref('int_loans_summarised') }}
),

snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

scores as (
    select * from {{ ref('int_household_scores_evaluated') }}
    where eval_kind = 'disbursement'
),

loan_days as (
    select * from {{ ref('int_loan_days') }}
),

village_breaker as (
    select * from {{ ref('village_breaker') }}
),

township_breaker as (
    select * from {{ ref('township_breaker') }}
),

disbursed as (
    select
        *,
        -- R-B3: a breaker tripped at month-end M stops new credit during the following month.
        cast(date_trunc('month', disbursed_on) - interval 1 day as date) as previous_month_end
    from loans
    where disbursed_on <= (select max(snapshots.as_of) from snapshots)
),

-- R-X2: the household's outstanding principal on the disbursement day, the new loan included.
household_outstanding as (
    select
        disbursed.loan_id,
        coalesce(sum(loan_days.outstanding_principal) filter (where loan_days.on_book), 0)
            as outstanding_with_new_loan
    from disbursed
    inner join loan_days
        on
            disbursed.borrower_id = loan_days.borrower_id
            and disbursed.disbursed_on = loan_days.as_of
            and loan_days.is_household_loan
    where disbursed.is_household_loan
    group by disbursed.loan_id
),

checked as (
    select
        disbursed.loan_id,
        disbursed.borrower_type,
        disbursed.borrower_id,
        disbursed.village_code,
        disbursed.township_code,
        disbursed.amount,
        disbursed.disbursed_on,
        disbursed.maturity_on,
        disbursed.annual_rate,
        disbursed.benchmark_rate,
        scores.score as score_on_disbursement,
        coalesce(scores.grade, '未评级') as grade_on_disbursement,
        coalesce(scores.credit_limit, 0) as credit_limit_on_disbursement,
        coalesce(scores.registered_poor, false) as registered_poor_on_disbursement,
        cast(household_outstanding.outstanding_with_new_loan as decimal(18, 2))
            as outstanding_with_new_loan,
        -- R-X1: unrated or 无信用 on the disbursement day.
        disbursed.is_household_loan
        and (scores.grade is null or scores.grade = '{{ var('no_credit_grade') }}') as x1_no_credit,
        -- R-X2: outstanding including the new loan exceeds the grade's limit.
        disbursed.is_household_loan
        and household_outstanding.outstanding_with_new_loan > coalesce(scores.credit_limit, 0)
            as x2_over_limit,
        -- R-X3: disbursed in a month when the village or township breaker was tripped.
        disbursed.is_household_loan
        and coalesce(village_breaker.tripped or township_breaker.tripped, false) as x3_breaker,
        -- R-X4: term over 36 months.
        disbursed.maturity_on
        > cast(disbursed.disbursed_on + interval {{ var('max_term_months') }} month as date) as x4_term,
        -- R-X5: rate above the benchmark for a registered-poor household (R-M1), above the
        -- benchmark x 1.10 for an entity (R-M2).
        case
            when disbursed.borrower_type = '经营主体'
                then
                    disbursed.annual_rate * 100
                    > disbursed.benchmark_rate * (100 + {{ var('entity_rate_markup_pct') }})
            when coalesce(scores.registered_poor, false)
                then disbursed.annual_rate > disbursed.benchmark_rate
            else false
        end as x5_rate
    from disbursed
    left join scores
        on
            disbursed.is_household_loan
            and disbursed.borrower_id = scores.household_id
            and disbursed.disbursed_on = scores.as_of
    left join household_outstanding on disbursed.loan_id = household_outstanding.loan_id
    left join village_breaker
        on
            disbursed.village_code = village_breaker.village_code
            and disbursed.previous_month_end = village_breaker.as_of
    left join township_breaker
        on
            disbursed.township_code = township_breaker.township_code
            and disbursed.previous_month_end = township_breaker.as_of
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
