-- One row per scheduled instalment (还款计划), with its amount due (principal + interest, R-L2).
with

schedule as (
    select * from {{ source('bank', 'schedule') }}
),

renamed as (
    select
        loan_id,
        installment_no,
        due_on,
        principal_due,
        interest_due,
        principal_due + interest_due as amount_due
    from schedule
)

select * from renamed
