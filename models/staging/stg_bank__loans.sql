with

loans as (
    select * from {{ source('bank', 'loans') }}
),

renamed as (
    select
        loan_id,
        borrower_type,
        borrower_id,
        bank,
        product,
        amount,
        disbursed_on,
        maturity_on,
        annual_rate,
        benchmark_rate,
        repayment_method,
        written_off_on
    from loans
)

select * from renamed
