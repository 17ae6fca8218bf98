-- R-S7 loan-book events of each household, dated: an overdue event is an instalment not covered by
-- the end of its due date (dated due_on); an NPL event is a loan's first NPL date (R-L4).
-- Written-off and repaid loans count too: these are events in the household's history.
with

loans as (
    select * from {{ ref('int_loans_summarised') }}
),

instalments as (
    select * from {{ ref('int_instalments_covered') }}
),

overdue_events as (
    select
        loans.borrower_id as household_id,
        instalments.due_on as event_on,
        'overdue' as event_kind,
        instalments.loan_id
    from instalments
    inner join loans on instalments.loan_id = loans.loan_id
    where loans.is_household_loan and instalments.was_missed
),

npl_events as (
    select
        borrower_id as household_id,
        first_npl_on as event_on,
        'npl' as event_kind,
        loan_id
    from loans
    where is_household_loan and first_npl_on is not null
),

final as (
    select * from overdue_events
    union all
    select * from npl_events
)

select * from final
