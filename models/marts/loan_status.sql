-- Contract mart: every loan on the book (R-L1) at every snapshot date, households' and entities', with
-- its DPD, overdue and NPL state (R-L3) as int_loan_days computes them, and the five-tier class.
-- Written year by year (materialization clustered_table) so it is clustered by as_of without a sort.
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

snapshots as not materialized (
    select * from {{ ref('int_snapshot_dates') }}
),

final as not materialized (
    select
        loan_days.loan_id,
        loan_days.as_of,
        snapshots.is_month_end,
        loan_days.borrower_type,
        loan_days.borrower_id,
        loan_days.village_code,
        loan_days.township_code,
        loan_days.amount,
        loan_days.disbursed_on,
        loan_days.outstanding_principal,
        loan_days.oldest_unpaid_due_on,
        loan_days.dpd,
        {{ five_tier_of('loan_days.dpd') }} as five_tier,
        loan_days.is_overdue,
        loan_days.is_npl
    from loan_days
    inner join snapshots on loan_days.as_of = snapshots.as_of
    where loan_days.on_book
)

select * from final
