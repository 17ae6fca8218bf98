-- Each loan's payments with running totals (R-L2 applies the total paid, whatever its split).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_touched('loan_id', 'touched_loans') }}",
) }}

-- depends_on: {{ source('intake', 'touched_loans') }}

with

repayments as (
    select * from {{ ref('stg_bank__repayments') }}
    where {{ touched('loan_id', 'touched_loans') }}
),

loans as (
    select * from {{ ref('int_loans_summarised') }}
),

final as (
    select
        loans.village_code,
        loans.borrower_id,
        repayments.loan_id,
        repayments.payment_id,
        repayments.paid_on,
        repayments.principal_paid,
        repayments.interest_paid,
        repayments.total_paid,
        sum(repayments.total_paid) over loan_payments as cumulative_paid,
        sum(repayments.principal_paid) over loan_payments as cumulative_principal_paid
    from repayments
    inner join loans on repayments.loan_id = loans.loan_id
    window loan_payments as (
        partition by repayments.loan_id
        order by repayments.paid_on, repayments.payment_id
        rows unbounded preceding
    )
)

select * from final
order by village_code, borrower_id, loan_id, paid_on, payment_id
