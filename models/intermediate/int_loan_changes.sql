-- Every day on which a loan's state changes, with its state from that day until the next change
-- (valid_until): the principal repaid (R-L1: outstanding = amount - principal repaid), the due date
-- of its oldest instalment not covered (R-L2, R-L3), its outstanding principal on the book (R-L1,
-- R-C2), whether it is overdue (R-L3, veto V3), and the loan-book events that fall on that day
-- (R-S7: an instalment not covered by the end of its due date counts from the next day, a first
-- NPL date from that day), with the change against its previous state.
-- Between two of these days nothing changes, so the loan's snapshot rows (int_loan_days) are this
-- state read on each snapshot date, and the household timeline adds up the changes of its loans
-- instead of evaluating every loan on every day. Entity loans have rows too (loan_status).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_touched('loan_id', 'touched_loans') }}",
) }}

-- depends_on: {{ source('intake', 'touched_loans') }}

with

loans as (
    select * from {{ ref('int_loans_summarised') }}
    where {{ touched('loan_id', 'touched_loans') }}
),

payment_days as (
    select * from {{ ref('int_payment_days') }}
    where {{ touched('loan_id', 'touched_loans') }}
),

segments as (
    select * from {{ ref('int_loan_dpd_segments') }}
    where {{ touched('loan_id', 'touched_loans') }}
),

instalments as (
    select * from {{ ref('int_instalments_covered') }}
    where {{ touched('loan_id', 'touched_loans') }}
),

-- R-S7: an overdue event counts on D when due_on < D, i.e. from due_on + 1.
overdue_event_days as (
    select
        loan_id,
        due_on + 1 as changed_on,
        count(*) as overdue_events
    from instalments
    where was_missed
    group by loan_id, due_on + 1
),

change_days as (
    select
        loan_id,
        disbursed_on as changed_on
    from loans
    union
    select
        payment_days.loan_id,
        payment_days.paid_on as changed_on
    from payment_days
    inner join loans on payment_days.loan_id = loans.loan_id
    union
    select
        loan_id,
        written_off_on as changed_on
    from loans
    where written_off_on is not null
    union
    -- The oldest uncovered instalment changes when a group of instalments becomes covered …
    select
        segments.loan_id,
        segments.covered_on as changed_on
    from segments
    inner join loans on segments.loan_id = loans.loan_id
    where segments.covered_on < date '9999-12-31'
    union
    -- … and DPD turns positive the day after the oldest uncovered instalment's due date.
    select
        segments.loan_id,
        segments.oldest_due_on + 1 as changed_on
    from segments
    inner join loans on segments.loan_id = loans.loan_id
    union
    select
        overdue_event_days.loan_id,
        overdue_event_days.changed_on
    from overdue_event_days
    inner join loans on overdue_event_days.loan_id = loans.loan_id
    union
    select
        loan_id,
        first_npl_on as changed_on
    from loans
    where first_npl_on is not null
),

with_principal as (
    select
        change_days.loan_id,
        change_days.changed_on,
        coalesce(payment_days.cumulative_principal_paid, 0) as principal_repaid
    from change_days
    asof left join payment_days
        on
            change_days.loan_id = payment_days.loan_id
            and change_days.changed_on >= payment_days.paid_on
),

with_oldest_due as (
    select
        with_principal.*,
        segments.oldest_due_on as oldest_uncovered_due_on
    from with_principal
    asof left join segments
        on
            with_principal.loan_id = segments.loan_id
            and with_principal.changed_on < segments.covered_on
),

states as (
    select
        with_oldest_due.loan_id,
        loans.borrower_id,
        loans.is_household_loan,
        with_oldest_due.changed_on,
        -- Amounts as decimal(18, 2) and counts as integer: the household timeline adds them up.
        cast(with_oldest_due.principal_repaid as decimal(18, 2)) as principal_repaid,
        with_oldest_due.oldest_uncovered_due_on,
        -- R-L1 (macro on_book): the outstanding principal while the loan is on the book, else 0.
        cast(case
            when {{ on_book(
                'loans.amount - with_oldest_due.principal_repaid', 'loans.written_off_on', 'with_oldest_due.changed_on'
            ) }}
                then loans.amount - with_oldest_due.principal_repaid
            else 0
        end as decimal(18, 2)) as outstanding_on_book,
        -- R-L3 (macros days_past_due, is_overdue): DPD > 0, on the book or not (R-S6 V3).
        {{ is_overdue(days_past_due('with_oldest_due.oldest_uncovered_due_on', 'with_oldest_due.changed_on')) }}
            as is_overdue,
        cast(coalesce(overdue_event_days.overdue_events, 0) as integer) as overdue_events,
        case when loans.first_npl_on = with_oldest_due.changed_on then 1 else 0 end as npl_events
    from with_oldest_due
    inner join loans on with_oldest_due.loan_id = loans.loan_id
    left join overdue_event_days
        on
            with_oldest_due.loan_id = overdue_event_days.loan_id
            and with_oldest_due.changed_on = overdue_event_days.changed_on
),

final as (
    select
        loan_id,
        borrower_id,
        is_household_loan,
        changed_on,
        coalesce(lead(changed_on) over loan_history, date '9999-12-31') as valid_until,
        principal_repaid,
        oldest_uncovered_due_on,
        outstanding_on_book,
        is_overdue,
        overdue_events,
        npl_events,
        cast(outstanding_on_book - coalesce(lag(outstanding_on_book) over loan_history, 0) as decimal(18, 2))
            as outstanding_change,
        cast(outstanding_on_book > 0 as integer)
        - coalesce(cast(lag(outstanding_on_book) over loan_history > 0 as integer), 0)
            as loans_on_book_change,
        cast(is_overdue as integer)
        - coalesce(cast(lag(is_overdue) over loan_history as integer), 0) as overdue_loans_change
    from states
    window loan_history as (partition by loan_id order by changed_on)
)

select * from final
