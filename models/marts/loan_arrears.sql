-- Every household loan in arrears (DPD > 0, R-L3) at every snapshot date, on the book or not: the
-- loans behind a household's V3 veto (R-S6: any loan disbursed on or before D overdue or
-- non-performing on D, on the book or not; a written-off loan that is still unpaid keeps vetoing).
-- The same rows and DPD as int_loan_days, which V3 itself reads (int_loan_changes ->
-- int_household_timeline), so the dashboard names the very loans that veto. loan_status lists the
-- loans on the book only; this mart adds the written-off and unpaid ones (on_book false).
-- Written year by year (materialization clustered_table), clustered by as_of like loan_status.
{{ config(
    materialized='clustered_table',
    sort_by=['as_of', 'village_code', 'borrower_id', 'loan_id'],
    rebuild_by={'borrower': 'borrower_id'},
) }}

-- depends_on: {{ source('intake', 'moved_households') }}

with

loan_days as not materialized (
    select * from {{ ref('int_loan_days') }}
),

loans as not materialized (
    select * from {{ ref('int_loans_summarised') }}
),

snapshots as not materialized (
    select * from {{ ref('int_snapshot_dates') }}
),

final as not materialized (
    select
        loan_days.loan_id,
        loan_days.as_of,
        snapshots.is_month_end,
        loan_days.borrower_id,
        loan_days.village_code,
        loan_days.township_code,
        loan_days.amount,
        loan_days.disbursed_on,
        -- As known on as_of, like first_npl_on: a write-off after as_of is not shown on that date
        -- (the row of a date before it is the same whichever later month wrote it off).
        case when loans.written_off_on <= loan_days.as_of then loans.written_off_on end as written_off_on,
        loan_days.on_book,
        loan_days.outstanding_principal,
        loan_days.oldest_unpaid_due_on,
        loan_days.dpd,
        {{ five_tier_of('loan_days.dpd') }} as five_tier,
        loan_days.is_npl,
        -- R-L4 first NPL date, as known on as_of.
        case when loans.first_npl_on <= loan_days.as_of then loans.first_npl_on end as first_npl_on
    from loan_days
    inner join snapshots on loan_days.as_of = snapshots.as_of
    inner join loans on loan_days.loan_id = loans.loan_id
    where loan_days.is_household_loan and loan_days.is_overdue
)

select * from final
