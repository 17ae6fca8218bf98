-- R-L2: when each instalment became covered. Payments are applied first in, first out, so an
-- instalment is covered on D when the total paid on or before D is at least the cumulative amount
-- due up to and including it, minus the tolerance (1.00 元). covered_on is the first such day
-- (NULL: not covered by any payment in the data).
-- Because the cumulative due rises with the due-date order, covered_on never falls along a
-- loan's instalments: the instalments uncovered on a day are always a tail of the plan.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_touched('loan_id', 'touched_loans') }}",
) }}

-- depends_on: {{ source('intake', 'touched_loans') }}

with

schedule as (
    select * from {{ ref('stg_bank__schedule') }}
    where {{ touched('loan_id', 'touched_loans') }}
),

loans as (
    select * from {{ ref('stg_bank__loans') }}
),

-- Only the touched loans' payments: the as-of join below sorts all of its right side.
payment_days as (
    select * from {{ ref('int_payment_days') }}
    where {{ touched('loan_id', 'touched_loans') }}
),

cumulated as (
    select
        schedule.loan_id,
        schedule.installment_no,
        schedule.due_on,
        schedule.amount_due,
        sum(schedule.amount_due) over (
            partition by schedule.loan_id
            order by schedule.due_on, schedule.installment_no
            rows unbounded preceding
        ) as cumulative_due,
        loans.disbursed_on
    from schedule
    inner join loans on schedule.loan_id = loans.loan_id
),

thresholds as (
    select
        *,
        cumulative_due - {{ var('cover_tolerance') }} as cover_threshold
    from cumulated
),

covered as (
    select
        thresholds.loan_id,
        thresholds.installment_no,
        thresholds.due_on,
        thresholds.amount_due,
        thresholds.cumulative_due,
        case
            -- Nothing (beyond the tolerance) is due up to here: covered before any payment.
            when thresholds.cover_threshold <= 0 then least(thresholds.disbursed_on, thresholds.due_on)
            else payment_days.paid_on
        end as covered_on
    from thresholds
    -- The first payment day whose running total reaches the threshold.
    asof left join payment_days
        on
            thresholds.loan_id = payment_days.loan_id
            and thresholds.cover_threshold <= payment_days.cumulative_paid
),

npl_dated as (
    select
        *,
        -- R-S7: an overdue event is an instalment not covered by the end of its due date.
        covered_on is null or covered_on > due_on as was_missed,
        -- R-L4: day 91 after the due date, when DPD first exceeds the NPL threshold.
        due_on + {{ var('npl_dpd_threshold') | int + 1 }} as npl_candidate_on
    from covered
),

final as (
    select
        *,
        -- R-L4: still not covered on that day, so the loan is non-performing from then on.
        covered_on is null or covered_on > npl_candidate_on as makes_npl
    from npl_dated
)

select * from final
