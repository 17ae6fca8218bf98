-- R-B4 early warning (预警, a dashboard convenience, not in the text), per loan: the household loans
-- on the book (R-L1) at as_of that are overdue but not yet non-performing and would become
-- non-performing (R-L3: DPD above the NPL threshold, 90 days) by the next month-end if nothing is
-- repaid. Reading: with nothing repaid the oldest unpaid instalment stays unpaid, so DPD grows by
-- one a day: projected DPD = DPD on as_of + the days from as_of to the next month-end (the month-end
-- after as_of; for a provisional as-of date, the end of its own month). Only loans overdue on as_of
-- are projected: a loan with nothing past due now cannot pass the threshold within a month. The
-- outstanding principal stays as it is (nothing repaid, nothing written off). village_npl_outlook
-- adds them up by village.
with

loans as (
    select * from {{ ref('loan_status') }}
    where borrower_type = '农户' and is_overdue and not is_npl
),

projected as (
    select
        loan_id,
        as_of,
        is_month_end,
        borrower_id,
        village_code,
        township_code,
        amount,
        disbursed_on,
        outstanding_principal,
        oldest_unpaid_due_on,
        dpd,
        cast(last_day(as_of + 1) as date) as next_month_end,
        cast(dpd + (cast(last_day(as_of + 1) as date) - as_of) as integer) as projected_dpd
    from loans
),

final as (
    select * from projected
    where {{ is_npl('projected_dpd') }}
)

select * from final
order by as_of, village_code, borrower_id, loan_id
