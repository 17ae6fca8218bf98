-- The leading group's figures for every village at every snapshot date: the same columns as
-- kpi_monthly (scope_level 'village'), the sums that kpi_monthly adds up to townships and the
-- district (R-G1), the ratios through the same macro (macros/kpi.sql). Credit figures (R-C1, R-C2,
-- R-B3 credit stops), the household loan book and its overdue and NPL rates (R-L3, R-B1: the
-- breaker is over household loans), entity loans (R-M2, R-M5), the village's breaker (R-B2, R-B4)
-- and its township's, titles (R-T1), and the money flows (R-M1..R-M5). Amounts in 元.
-- A village's R-M2 subsidy is rounded to the fen from its own principal-days, so villages need not
-- add up to their township's figure to the fen.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_rebuilt('as_of', village='village_code', stop_village='village_code') }}",
) }}

-- A monthly build in which households moved (macros/incremental.sql) rebuilds, on the earlier dates,
-- the villages they left and joined (their households, loans, readings and titles changed) and the
-- (village, date) pairs whose credit stop or its reason changed: the township columns
-- (townships_tripped) of a village change only with its stop reason (int_credit_stops), which names
-- the township's breaker. The other villages of their townships keep their rows.
-- depends_on: {{ source('intake', 'touched_villages') }}
-- depends_on: {{ source('intake', 'previous_credit_stops') }}
-- depends_on: {{ ref('int_credit_stops') }}

with

snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

snapshot_range as (
    {{ snapshot_range('snapshots') }}
),

villages as (
    select * from {{ ref('stg_divisions__villages') }}
),

-- Read twice (credit, poor_interest): scanned twice rather than held in memory.
scores as not materialized (
    {{ select_rebuilt(ref('household_scores'), 'as_of', village='village_code', stop_village='village_code') }}
),

loans as (
    {{ select_rebuilt(ref('loan_status'), 'as_of', village='village_code', stop_village='village_code') }}
),

loan_book as (
    select * from {{ ref('int_loans_summarised') }}
),

payment_days as (
    select * from {{ ref('int_payment_days') }}
),

-- Read for the money flows of the rebuilt rows only (the subsidy of a snapshot's month).
repayments as (
    {{ select_rebuilt_villages_days(ref('stg_bank__repayments'), 'paid_on', 'loan_id', ref('int_loans_summarised')) }}
),

village_readings as (
    select * from {{ ref('int_village_readings') }}
),

township_readings as (
    select * from {{ ref('int_township_readings') }}
),

titles as (
    select * from {{ ref('int_titles_to_date') }}
    where scope_level = 'village'
),

-- R-M1: registered-poor households' loans are fully subsidised: the interest they paid in the
-- month of as_of is the subsidy. Interest paid by each household in each snapshot's month (month to
-- date for a provisional as_of), by month index (macros/snapshots.sql): no join by date range.
household_interest as (
    select
        loan_book.borrower_id as household_id,
        {{ snapshot_index_of('repayments.paid_on') }} as snapshot_index,
        sum(repayments.interest_paid) as interest_paid
    from repayments
    inner join loan_book on repayments.loan_id = loan_book.loan_id
    cross join snapshot_range
    where loan_book.is_household_loan and repayments.paid_on <= snapshot_range.last_as_of
    group by all
),

household_interest_dated as (
    select
        household_interest.household_id,
        snapshots.as_of,
        household_interest.interest_paid
    from household_interest
    inner join snapshots on household_interest.snapshot_index = snapshots.snapshot_index
),

-- The subsidy of the registered-poor households rated that day (their home village is their loans'
-- village, R-B1).
poor_interest as (
    select
        scores.village_code,
        scores.as_of,
        sum(household_interest_dated.interest_paid) as poor_interest_subsidy_in_month
    from scores
    inner join household_interest_dated
        on
            scores.household_id = household_interest_dated.household_id
            and scores.as_of = household_interest_dated.as_of
    where scores.registered_poor
    group by scores.village_code, scores.as_of
),

credit as (
    select
        village_code,
        as_of,
        count(*) as households_rated,
        count(*) filter (where grade = 'AAA+') as households_aaa_plus,
        count(*) filter (where grade = 'AAA') as households_aaa,
        count(*) filter (where grade = 'AA') as households_aa,
        count(*) filter (where grade = 'A') as households_a,
        count(*) filter (where grade = '{{ var('no_credit_grade') }}') as households_no_credit,
        count(*) filter (where credit_limit > 0) as households_credit,
        count(*) filter (where registered_poor) as poor_households_rated,
        count(*) filter (where registered_poor and credit_limit > 0) as poor_households_credit,
        count(*) filter (where registered_poor and loans_on_book > 0) as poor_borrowing_households,
        count(*) filter (where len(vetoes) > 0) as households_vetoed,
        count(*) filter (where credit_stopped) as households_credit_stopped,
        sum(credit_limit) as credit_granted,
        sum(available_credit) as available_credit
    from scores
    group by village_code, as_of
),

book as (
    select
        village_code,
        as_of,
        count(*) filter (where borrower_type = '农户') as household_loans_on_book,
        count(distinct borrower_id) filter (where borrower_type = '农户') as borrowing_households,
        coalesce(sum(outstanding_principal) filter (where borrower_type = '农户'), 0)
            as outstanding_balance,
        coalesce(sum(outstanding_principal) filter (where borrower_type = '农户' and is_overdue), 0)
            as overdue_balance,
        coalesce(sum(outstanding_principal) filter (where borrower_type = '农户' and is_npl), 0)
            as npl_balance,
        count(*) filter (where borrower_type = '经营主体') as entity_loans_on_book,
        coalesce(sum(outstanding_principal) filter (where borrower_type = '经营主体'), 0)
            as entity_outstanding_balance,
        -- R-M5: the base of the mutual guarantee fund.
        coalesce(sum(amount) filter (where borrower_type = '经营主体'), 0) as entity_amount_on_book
    from loans
    group by village_code, as_of
),

-- Loans disbursed in the month of as_of (month to date for a provisional as_of), by month index.
disbursements as (
    select
        loan_book.village_code,
        snapshots.as_of,
        count(*) as loans_disbursed_in_month,
        sum(loan_book.amount) as amount_disbursed_in_month
    from loan_book
    cross join snapshot_range
    inner join snapshots
        on {{ snapshot_index_of('loan_book.disbursed_on') }} = snapshots.snapshot_index
    where loan_book.disbursed_on <= snapshot_range.last_as_of
    group by loan_book.village_code, snapshots.as_of
),

-- R-M3: a written-off loan's loss is its outstanding principal at write-off.
write_offs as (
    select
        loan_book.loan_id,
        loan_book.village_code,
        loan_book.written_off_on,
        loan_book.amount - coalesce(principal_to_date.cumulative_principal_paid, 0) as loss
    from loan_book
    asof left join (
        -- The written-off loans' payments only: the as-of join sorts all of its right side.
        select * from payment_days
        where loan_id in (
            select loan_book.loan_id from loan_book
            where loan_book.written_off_on is not null
        )
    ) as principal_to_date
        on
            loan_book.loan_id = principal_to_date.loan_id
            and loan_book.written_off_on >= principal_to_date.paid_on
    where loan_book.written_off_on is not null
),

-- Cumulative: every write-off up to as_of, added up month by month over the whole grid (before the
-- rows a monthly build rebuilds are picked).
losses_by_month as (
    select
        write_offs.village_code,
        {{ first_snapshot_on_or_after('write_offs.written_off_on') }} as snapshot_index,
        count(*) as loans_written_off,
        sum(write_offs.loss) as written_off_principal
    from write_offs
    cross join snapshot_range
    group by all
),

losses as (
    select
        villages.village_code,
        snapshots.as_of,
        sum(coalesce(losses_by_month.loans_written_off, 0)) over village_months as loans_written_off,
        sum(coalesce(losses_by_month.written_off_principal, 0)) over village_months as written_off_principal
    from villages
    cross join snapshots
    left join losses_by_month
        on
            villages.village_code = losses_by_month.village_code
            and snapshots.snapshot_index = losses_by_month.snapshot_index
    window village_months as (
        partition by villages.village_code order by snapshots.snapshot_index rows unbounded preceding
    )
),

-- R-M2: entities get 3% a year on outstanding principal, actual/360, day by day in the month: the
-- month's principal-days (计息积数) of entity loans while on the book (R-L1).
entity_loans as (
    select * from loan_book
    where borrower_type = '经营主体'
),

entity_principal_changes as (
    select
        loan_id,
        disbursed_on as step_on,
        0 as principal_paid
    from entity_loans
    union all
    select
        payment_days.loan_id,
        payment_days.paid_on as step_on,
        payment_days.principal_paid
    from payment_days
    inner join entity_loans on payment_days.loan_id = entity_loans.loan_id
    where payment_days.paid_on > entity_loans.disbursed_on
),

entity_principal_steps as (
    select
        entity_loans.loan_id,
        entity_loans.village_code,
        entity_loans.written_off_on,
        entity_principal_changes.step_on,
        entity_loans.amount - sum(entity_principal_changes.principal_paid) over loan_steps
            as outstanding_from,
        lead(entity_principal_changes.step_on) over loan_steps as outstanding_until
    from entity_loans
    inner join entity_principal_changes on entity_loans.loan_id = entity_principal_changes.loan_id
    window loan_steps as (
        partition by entity_loans.loan_id
        order by entity_principal_changes.step_on
        rows between unbounded preceding and current row
    )
),

entity_principal_days as (
    select
        entity_principal_steps.village_code,
        snapshots.as_of,
        sum(
            entity_principal_steps.outstanding_from
            * (
                -- Until the next step, the write-off (off the book, R-L1) or the end of as_of.
                least(
                    coalesce(entity_principal_steps.outstanding_until, date '9999-12-31'),
                    coalesce(entity_principal_steps.written_off_on, date '9999-12-31'),
                    snapshots.as_of + 1
                )
                - greatest(entity_principal_steps.step_on, cast(date_trunc('month', snapshots.as_of) as date))
            )
        ) as entity_principal_days_in_month
    from entity_principal_steps
    inner join snapshots
        on
            entity_principal_steps.step_on <= snapshots.as_of
            and coalesce(entity_principal_steps.outstanding_until, date '9999-12-31')
            > date_trunc('month', snapshots.as_of)
            and coalesce(entity_principal_steps.written_off_on, date '9999-12-31')
            > date_trunc('month', snapshots.as_of)
    where {{ above_book_minimum('entity_principal_steps.outstanding_from') }}
    group by entity_principal_steps.village_code, snapshots.as_of
),

grid as (
    select
        villages.village_code,
        villages.village_name,
        villages.township_code,
        snapshots.as_of,
        snapshots.is_month_end,
        snapshots.breaker_month_end
    from villages
    cross join snapshots
    where {{ rebuilt('snapshots.as_of', village='villages.village_code', stop_village='villages.village_code') }}
),

village_sums as (
    select
        grid.village_code,
        grid.village_name,
        grid.township_code,
        grid.as_of,
        grid.is_month_end,
        coalesce(credit.households_rated, 0) as households_rated,
        coalesce(credit.households_aaa_plus, 0) as households_aaa_plus,
        coalesce(credit.households_aaa, 0) as households_aaa,
        coalesce(credit.households_aa, 0) as households_aa,
        coalesce(credit.households_a, 0) as households_a,
        coalesce(credit.households_no_credit, 0) as households_no_credit,
        coalesce(credit.households_credit, 0) as households_credit,
        coalesce(credit.poor_households_rated, 0) as poor_households_rated,
        coalesce(credit.poor_households_credit, 0) as poor_households_credit,
        coalesce(credit.poor_borrowing_households, 0) as poor_borrowing_households,
        coalesce(credit.households_vetoed, 0) as households_vetoed,
        coalesce(credit.households_credit_stopped, 0) as households_credit_stopped,
        coalesce(credit.credit_granted, 0) as credit_granted,
        coalesce(credit.available_credit, 0) as available_credit,
        coalesce(book.borrowing_households, 0) as borrowing_households,
        coalesce(book.household_loans_on_book, 0) as household_loans_on_book,
        coalesce(book.outstanding_balance, 0) as outstanding_balance,
        coalesce(book.overdue_balance, 0) as overdue_balance,
        coalesce(book.npl_balance, 0) as npl_balance,
        coalesce(book.entity_loans_on_book, 0) as entity_loans_on_book,
        coalesce(book.entity_outstanding_balance, 0) as entity_outstanding_balance,
        coalesce(book.entity_amount_on_book, 0) as entity_amount_on_book,
        coalesce(disbursements.loans_disbursed_in_month, 0) as loans_disbursed_in_month,
        coalesce(disbursements.amount_disbursed_in_month, 0) as amount_disbursed_in_month,
        coalesce(losses.loans_written_off, 0) as loans_written_off,
        coalesce(losses.written_off_principal, 0) as written_off_principal,
        coalesce(poor_interest.poor_interest_subsidy_in_month, 0) as poor_interest_subsidy_in_month,
        coalesce(entity_principal_days.entity_principal_days_in_month, 0) as entity_principal_days_in_month,
        1 as villages_total,
        cast(coalesce(village_readings.tripped, false) as integer) as villages_tripped,
        cast(coalesce(village_readings.watch, false) as integer) as villages_watch,
        village_readings.status as breaker_status,
        1 as townships_total,
        cast(coalesce(township_readings.tripped, false) as integer) as townships_tripped,
        -- R-T1 as known at the latest month-end on or before as_of, for that month-end's year.
        titles.title_year,
        cast(coalesce(titles.holds_title, false) as integer) as credit_villages,
        cast(null as integer) as credit_townships
    from grid
    left join credit using (village_code, as_of)
    left join book using (village_code, as_of)
    left join disbursements using (village_code, as_of)
    left join losses using (village_code, as_of)
    left join poor_interest using (village_code, as_of)
    left join entity_principal_days using (village_code, as_of)
    left join village_readings using (village_code, as_of)
    left join township_readings
        on
            grid.township_code = township_readings.township_code
            and grid.as_of = township_readings.as_of
    left join titles
        on
            grid.village_code = titles.scope_code
            and grid.breaker_month_end = titles.as_of
),

with_money as (
    select
        *,
        {{ guarantee_fund_of('entity_amount_on_book') }} as guarantee_fund_balance,
        {{ entity_subsidy_of('entity_principal_days_in_month') }} as entity_interest_subsidy_in_month
    from village_sums
),

final as (
    select
        'village' as scope_level,
        village_code as scope_code,
        village_name as scope_name,
        as_of,
        is_month_end,
        {{ kpi_columns() }},
        township_code,
        village_code,
        breaker_status
    from with_money
)

select * from final
order by as_of, township_code, village_code
