with

repayments as (
    select * from {{ source('bank', 'repayments') }}
),

renamed as (
    select
        payment_id,
        loan_id,
        paid_on,
        principal_paid,
        interest_paid,
        principal_paid + interest_paid as total_paid
    from repayments
)

select * from renamed
