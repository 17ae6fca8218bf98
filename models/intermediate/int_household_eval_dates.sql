-- The (household, day) pairs on which a score is evaluated: every snapshot date from the
-- household's first collection on (R-S1: before it the household is unrated), and every day one of
-- its loans was disbursed (R-X1, R-X2), rated or not.
with

households as (
    select * from {{ ref('int_households_homed') }}
),

snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

loans as (
    select * from {{ ref('int_loans_summarised') }}
),

snapshot_dates as (
    select
        households.household_id,
        snapshots.as_of,
        true as is_snapshot
    from households
    inner join snapshots on snapshots.as_of >= households.first_collected_on
),

disbursement_dates as (
    select distinct
        borrower_id as household_id,
        disbursed_on as as_of,
        false as is_snapshot
    from loans
    where
        is_household_loan
        and disbursed_on <= (select max(snapshots.as_of) from snapshots)
        and disbursed_on not in (select snapshots.as_of from snapshots)
),

final as (
    select * from snapshot_dates
    union all
    select * from disbursement_dates
)

select * from final
