-- Each loan's repayment plan against its payments (R-L2): the cumulative amount due, the day each
-- instalment became covered (first in, first out, 1.00 元 tolerance) and whether it was missed
-- (not covered by the end of its due date, R-S7).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_touched('loan_id', 'touched_loans') }}",
) }}

-- depends_on: {{ source('intake', 'touched_loans') }}

with

instalments as (
    select * from {{ ref('int_instalments_covered') }}
    where {{ touched('loan_id', 'touched_loans') }}
),

schedule as (
    select * from {{ ref('stg_bank__schedule') }}
),

loans as (
    select * from {{ ref('int_loans_summarised') }}
),

final as (
    select
        loans.village_code,
        loans.borrower_id,
        instalments.loan_id,
        instalments.installment_no,
        instalments.due_on,
        schedule.principal_due,
        schedule.interest_due,
        instalments.amount_due,
        instalments.cumulative_due,
        instalments.covered_on,
        instalments.was_missed
    from instalments
    inner join schedule
        on
            instalments.loan_id = schedule.loan_id
            and instalments.installment_no = schedule.installment_no
    inner join loans on instalments.loan_id = loans.loan_id
)

select * from final
order by village_code, borrower_id, loan_id, due_on, installment_no
