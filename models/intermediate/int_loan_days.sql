-- The status of every loan on every snapshot date (DATA_CONTRACT) from disbursement until the loan
-- is settled: R-L1 outstanding principal and on-book; R-L3 DPD. Written-off loans keep their DPD.
-- A loan's state only changes on the days int_loan_changes lists, so each snapshot date reads the
-- state in force that day: a state [changed_on, valid_until) holds the snapshot dates whose indexes
-- run from the first on or after changed_on to the first on or after valid_until (within the
-- loan's life, disbursement to settlement), expanded with range() (macros/snapshots.sql).
-- A view: loan_status, loan_arrears and int_village_readings read it once each. In a monthly build
-- (macros/incremental.sql) it holds only the days that build recomputes — from incremental_from
-- on, every day of the loans of households that moved and of the villages they left or joined —
-- and its readers pick theirs among them: no loan's whole history is expanded to be thrown away.
{{ config(materialized='view') }}

-- depends_on: {{ source('intake', 'moved_households') }}
-- depends_on: {{ source('intake', 'touched_villages') }}

with

loans as (
    select * from {{ ref('int_loans_summarised') }}
),

snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

changes as (
    {{ select_recomputed_loan_changes(ref('int_loan_changes'), ref('int_loans_summarised')) }}
),

snapshot_range as (
    {{ snapshot_range('snapshots') }}
),

state_indexes as (
    select
        changes.loan_id,
        changes.principal_repaid,
        changes.oldest_uncovered_due_on,
        greatest(
            {{ first_snapshot_on_or_after('changes.changed_on') }},
            {{ first_snapshot_on_or_after('loans.disbursed_on') }},
            {{ first_recomputed_loan_day('loans.borrower_id', 'loans.village_code') }}
        ) as from_index,
        least(
            {{ first_snapshot_on_or_after('changes.valid_until') }},
            {{ first_snapshot_on_or_after('loans.settled_on') }}
        ) as until_index
    from changes
    inner join loans on changes.loan_id = loans.loan_id
    cross join snapshot_range
),

loan_days as (
    select
        state_indexes.loan_id,
        snapshots.as_of,
        state_indexes.principal_repaid,
        state_indexes.oldest_uncovered_due_on
    from (
        select
            loan_id,
            principal_repaid,
            oldest_uncovered_due_on,
            unnest(range(from_index, until_index)) as snapshot_index
        from state_indexes
        where from_index < until_index
    ) as state_indexes
    inner join snapshots on state_indexes.snapshot_index = snapshots.snapshot_index
),

-- One home for R-L1 and R-L3 on a snapshot date: every model that needs on-book, DPD, overdue or NPL
-- on a snapshot date reads these columns (the change days of int_loan_changes use the same macros).
final as (
    select
        loan_days.loan_id,
        loan_days.as_of,
        loans.borrower_type,
        loans.borrower_id,
        loans.is_household_loan,
        loans.village_code,
        loans.township_code,
        loans.amount,
        loans.disbursed_on,
        cast(loans.amount - loan_days.principal_repaid as decimal(18, 2)) as outstanding_principal,
        -- R-L3: only an instalment due before as_of can be past due.
        case
            when loan_days.oldest_uncovered_due_on < loan_days.as_of
                then loan_days.oldest_uncovered_due_on
        end as oldest_unpaid_due_on,
        {{ days_past_due('loan_days.oldest_uncovered_due_on', 'loan_days.as_of') }} as dpd,
        {{ is_overdue(days_past_due('loan_days.oldest_uncovered_due_on', 'loan_days.as_of')) }}
            as is_overdue,
        {{ is_npl(days_past_due('loan_days.oldest_uncovered_due_on', 'loan_days.as_of')) }}
            as is_npl,
        -- R-L1: disbursed, not written off on or before as_of, outstanding above 1.00 元.
        {{ on_book('loans.amount - loan_days.principal_repaid', 'loans.written_off_on', 'loan_days.as_of') }}
            as on_book
    from loan_days
    inner join loans on loan_days.loan_id = loans.loan_id
)

select * from final
