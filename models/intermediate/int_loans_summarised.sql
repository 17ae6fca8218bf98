-- One row per loan with what the daily status needs: the borrower's home village (R-B1; an
-- entity's own village), the first NPL date (R-L4), and the last day on which anything can still
-- be owed (after it the loan is neither on the book nor overdue, so it needs no daily rows).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_touched('loan_id', 'touched_loans') }}",
) }}

-- depends_on: {{ source('intake', 'touched_loans') }}

with

loans as (
    select * from {{ ref('stg_bank__loans') }}
    where {{ touched('loan_id', 'touched_loans') }}
),

households as (
    select * from {{ ref('int_households_homed') }}
),

entities as (
    select * from {{ ref('stg_township_stations__entities') }}
),

villages as (
    select * from {{ ref('stg_divisions__villages') }}
),

instalments as (
    select * from {{ ref('int_instalments_covered') }}
),

payment_days as (
    select * from {{ ref('int_payment_days') }}
),

plan_cover as (
    select
        loan_id,
        count(*) as instalments,
        -- NULL when some instalment is never covered in the data.
        case when bool_and(covered_on is not null) then max(covered_on) end as fully_covered_on,
        min(npl_candidate_on) filter (where makes_npl) as first_npl_on,
        count(*) filter (where was_missed) as missed_instalments
    from instalments
    group by loan_id
),

principal_settled as (
    select
        payment_days.loan_id,
        -- R-L1: off the book once outstanding principal is no longer above 1.00 元.
        min(payment_days.paid_on) filter (
            where not {{ above_book_minimum('loans.amount - payment_days.cumulative_principal_paid') }}
        ) as principal_settled_on
    from payment_days
    inner join loans on payment_days.loan_id = loans.loan_id
    group by payment_days.loan_id
),

borrower_villages as (
    select
        loans.loan_id,
        coalesce(households.village_code, entities.village_code) as village_code
    from loans
    left join households
        on loans.borrower_type = '农户' and loans.borrower_id = households.household_id
    left join entities
        on loans.borrower_type = '经营主体' and loans.borrower_id = entities.entity_id
),

summarised as (
    select
        loans.loan_id,
        loans.borrower_type,
        loans.borrower_id,
        loans.borrower_type = '农户' as is_household_loan,
        borrower_villages.village_code,
        villages.township_code,
        loans.bank,
        loans.product,
        loans.amount,
        loans.disbursed_on,
        loans.maturity_on,
        loans.annual_rate,
        loans.benchmark_rate,
        loans.repayment_method,
        loans.written_off_on,
        coalesce(plan_cover.instalments, 0) as instalments,
        coalesce(plan_cover.missed_instalments, 0) as missed_instalments,
        -- A loan without a plan owes no instalment.
        case
            when plan_cover.loan_id is null then loans.disbursed_on else plan_cover.fully_covered_on
        end as fully_covered_on,
        plan_cover.first_npl_on,
        case
            when not {{ above_book_minimum('loans.amount') }} then loans.disbursed_on
            else principal_settled.principal_settled_on
        end as principal_settled_on
    from loans
    left join plan_cover on loans.loan_id = plan_cover.loan_id
    left join principal_settled on loans.loan_id = principal_settled.loan_id
    left join borrower_villages on loans.loan_id = borrower_villages.loan_id
    left join villages on borrower_villages.village_code = villages.village_code
),

final as (
    select
        *,
        -- From this day on the loan is fully covered and its principal settled: nothing to report.
        greatest(
            coalesce(fully_covered_on, date '9999-12-31'),
            coalesce(principal_settled_on, date '9999-12-31')
        ) as settled_on
    from summarised
)

select * from final
