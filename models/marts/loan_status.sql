-- Contract mart: every loan on the book (R-L1) at every snapshot date, households' and entities', with
-- its DPD, overdue and NPL state (R-L3) as int_loan_days computes them, and the five-tier class.
-- Written in one statement ordered by as_of and village (the dashboard's filters skip the rest by
-- zone maps); a monthly build appends the dates it rebuilds, in the same order.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_rebuilt('as_of', borrower='borrower_id') }}",
) }}

-- depends_on: {{ source('intake', 'moved_households') }}

with

loan_days as (
    select * from {{ ref('int_loan_days') }}
    where on_book and {{ rebuilt('as_of', borrower='borrower_id') }}
),

snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

final as (
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
)

select * from final
order by as_of, village_code, borrower_id, loan_id
