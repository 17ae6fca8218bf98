-- One row per loan with what the drill-down shows about it: borrower, home village (R-B1), terms,
-- first NPL date (R-L4), instalments missed (R-S7) and the write-off (R-L1, R-M3).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_touched('loan_id', 'touched_loans') }}",
) }}

-- depends_on: {{ source('intake', 'touched_loans') }}

with

loans as (
    select * from {{ ref('int_loans_summarised') }}
    where {{ touched('loan_id', 'touched_loans') }}
),

final as (
    select
        loan_id,
        borrower_type,
        borrower_id,
        village_code,
        township_code,
        bank,
        product,
        amount,
        disbursed_on,
        maturity_on,
        annual_rate,
        benchmark_rate,
        repayment_method,
        written_off_on,
        instalments,
        missed_instalments,
        first_npl_on,
        case when fully_covered_on < date '9999-12-31' then fully_covered_on end as fully_covered_on
    from loans
)

select * from final
order by village_code, borrower_id, loan_id
