-- The status of every loan on every snapshot date (DATA_CONTRACT) from disbursement until the loan
-- is settled: R-L1 outstanding principal and on-book; R-L3 DPD. Written-off loans keep their DPD.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_rebuilt('as_of', borrower='borrower_id') }}",
) }}


-- depends_on: {{ source('intake', 'moved_households') }}

with

loans as (
    select * from {{ ref('int_loans_summarised') }}
),

snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

payment_days as (
    select * from {{ ref('int_payment_days') }}
),

segments as (
    select * from {{ ref('int_loan_dpd_segments') }}
),

loan_days as (
    select
        loans.loan_id,
        snapshots.as_of
    from loans
    inner join snapshots
        on
            snapshots.as_of >= loans.disbursed_on
            and snapshots.as_of < loans.settled_on
    where {{ rebuilt('snapshots.as_of', borrower='loans.borrower_id') }}
),

with_principal as (
    select
        loan_days.*,
        coalesce(payment_days.cumulative_principal_paid, 0) as principal_repaid
    from loan_days
    asof left join payment_days
        on
            loan_days.loan_id = payment_days.loan_id
            and loan_days.as_of >= payment_days.paid_on
),

with_oldest_due as (
    select
        with_principal.*,
        -- The oldest instalment not covered on as_of (NULL: every instalment is covered).
        segments.oldest_due_on as oldest_uncovered_due_on
    from with_principal
    asof left join segments
        on
            with_principal.loan_id = segments.loan_id
            and with_principal.as_of < segments.covered_on
),

-- One home for R-L1 and R-L3 on a snapshot date: every model that needs on-book, DPD, overdue or NPL
-- on a snapshot date reads these columns (the change days of int_loan_changes use the same macros).
final as (
    select
        with_oldest_due.loan_id,
        with_oldest_due.as_of,
        loans.borrower_type,
        loans.borrower_id,
        loans.is_household_loan,
        loans.village_code,
        loans.township_code,
        loans.amount,
        loans.disbursed_on,
        cast(loans.amount - with_oldest_due.principal_repaid as decimal(18, 2)) as outstanding_principal,
        -- R-L3: only an instalment due before as_of can be past due.
        case
            when with_oldest_due.oldest_uncovered_due_on < with_oldest_due.as_of
                then with_oldest_due.oldest_uncovered_due_on
        end as oldest_unpaid_due_on,
        {{ days_past_due('with_oldest_due.oldest_uncovered_due_on', 'with_oldest_due.as_of') }} as dpd,
        {{ is_overdue(days_past_due('with_oldest_due.oldest_uncovered_due_on', 'with_oldest_due.as_of')) }}
            as is_overdue,
        {{ is_npl(days_past_due('with_oldest_due.oldest_uncovered_due_on', 'with_oldest_due.as_of')) }}
            as is_npl,
        -- R-L1: disbursed, not written off on or before as_of, outstanding above 1.00 元.
        {{ on_book('loans.amount - with_oldest_due.principal_repaid', 'loans.written_off_on', 'with_oldest_due.as_of') }}
            as on_book
    from with_oldest_due
    inner join loans on with_oldest_due.loan_id = loans.loan_id
)

select * from final
