-- Payments per loan and day, with running totals: "a payment made on D counts on D", and
-- R-L2 applies payments as a whole (principal + interest, whatever their split) in due-date order.
-- Days that paid nothing are left out so that the running total rises strictly from day to day.
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

days as (
    select
        loan_id,
        paid_on,
        cast(sum(total_paid) as decimal(18, 2)) as paid,
        cast(sum(principal_paid) as decimal(18, 2)) as principal_paid
    from repayments
    group by loan_id, paid_on
    having sum(total_paid) > 0
),

final as (
    select
        loan_id,
        paid_on,
        paid,
        principal_paid,
        -- decimal(18, 2) like the amounts: later joins compare and add them row by row.
        cast(sum(paid) over loan_days as decimal(18, 2)) as cumulative_paid,
        cast(sum(principal_paid) over loan_days as decimal(18, 2)) as cumulative_principal_paid
    from days
    window loan_days as (partition by loan_id order by paid_on rows unbounded preceding)
)

select * from final
