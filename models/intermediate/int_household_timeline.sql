-- Each household's history as periods [valid_from, valid_until) during which everything its score
-- depends on — apart from D6's three-year window, a function of the day itself — stays the same:
-- the collection in force (R-S1), its loans' outstanding principal on the book (R-C2), whether any
-- loan is overdue (R-S6 V3), and its loan-book events since that collection (R-S7). The parts of
-- the score that are constant through a period are computed here: D3 and the vetoes.
-- A period starts at a collection or at a change of one of its loans (int_loan_changes); periods
-- before the first collection have no collection (unrated, R-S1). The score on any day D is read
-- from the period containing D (int_household_scores_evaluated).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_touched('household_id', 'touched_households') }}",
) }}

-- depends_on: {{ source('intake', 'touched_households') }}

with

collections as (
    select * from {{ ref('int_collections_scored') }}
    where {{ touched('household_id', 'touched_households') }}
),

loan_changes as (
    select * from {{ ref('int_loan_changes') }}
    where {{ touched('household_id', 'touched_households') }}
),

households as (
    select * from {{ ref('int_households_homed') }}
),

household_changes as (
    select
        household_id,
        changed_on,
        sum(outstanding_change) as outstanding_change,
        sum(loans_on_book_change) as loans_on_book_change,
        sum(overdue_loans_change) as overdue_loans_change,
        sum(overdue_events) as overdue_events,
        sum(npl_events) as npl_events
    from loan_changes
    group by household_id, changed_on
),

-- The household's loans added up, from each change on; events counted from the first loan on:
-- overdue_events_to_date(D) = instalments due before D not covered by the end of their due date,
-- npl_events_to_date(D) = loans with a first NPL date on or before D.
book_states as (
    select
        household_id,
        changed_on,
        sum(outstanding_change) over household_history as outstanding_principal,
        sum(loans_on_book_change) over household_history as loans_on_book,
        sum(overdue_loans_change) over household_history as overdue_loans,
        sum(overdue_events) over household_history as overdue_events_to_date,
        sum(npl_events) over household_history as npl_events_to_date
    from household_changes
    window household_history as (
        partition by household_id order by changed_on rows unbounded preceding
    )
),

-- R-S7 counts loan-book events strictly after collected_on: overdue events with due_on > collected_on
-- (those counted from collected_on + 2 on), NPL events dated after collected_on. What had happened by
-- then is subtracted.
collections_with_baseline as (
    select
        with_npl_baseline.*,
        coalesce(overdue_baseline.overdue_events_to_date, 0) as overdue_events_before
    from (
        select
            collections.*,
            coalesce(npl_baseline.npl_events_to_date, 0) as npl_events_before
        from collections
        asof left join book_states as npl_baseline
            on
                collections.household_id = npl_baseline.household_id
                and collections.collected_on >= npl_baseline.changed_on
    ) as with_npl_baseline
    asof left join book_states as overdue_baseline
        on
            with_npl_baseline.household_id = overdue_baseline.household_id
            and with_npl_baseline.collected_on + 1 >= overdue_baseline.changed_on
),

period_starts as (
    select
        household_id,
        collected_on as valid_from
    from collections
    union
    select
        household_id,
        changed_on as valid_from
    from book_states
),

periods as (
    select
        household_id,
        valid_from,
        coalesce(
            lead(valid_from) over (partition by household_id order by valid_from),
            date '9999-12-31'
        ) as valid_until
    from period_starts
),

with_book as (
    select
        periods.*,
        coalesce(book_states.outstanding_principal, 0) as outstanding_principal,
        coalesce(book_states.loans_on_book, 0) as loans_on_book,
        coalesce(book_states.overdue_loans, 0) > 0 as has_overdue_loan,
        coalesce(book_states.overdue_events_to_date, 0) as overdue_events_to_date,
        coalesce(book_states.npl_events_to_date, 0) as npl_events_to_date
    from periods
    asof left join book_states
        on
            periods.household_id = book_states.household_id
            and periods.valid_from >= book_states.changed_on
),

periods_with_collection as (
    select
        with_book.household_id,
        -- R-B1: the home village, the same for every period.
        households.village_code,
        households.township_code,
        with_book.valid_from,
        with_book.valid_until,
        with_book.outstanding_principal,
        with_book.loans_on_book,
        with_book.has_overdue_loan,
        -- Never negative: on collected_on itself an instalment due that day is not yet counted.
        greatest(
            with_book.overdue_events_to_date - coalesce(collections.overdue_events_before, 0), 0
        ) as book_overdue_events,
        with_book.npl_events_to_date - coalesce(collections.npl_events_before, 0)
            as book_npl_events,
        collections.* exclude (household_id, valid_until, overdue_events_before, npl_events_before)  -- noqa: RF02
    from with_book
    inner join households on with_book.household_id = households.household_id
    asof left join collections_with_baseline as collections
        on
            with_book.household_id = collections.household_id
            and with_book.valid_from >= collections.collected_on
),

-- What stays the same through a period is scored here once, not on every day of it.
final as (
    select
        *,
        -- R-S7: events from the credit report plus the loan book's since collected_on.
        credit_overdue_count + book_overdue_events as overdue_events,
        credit_npl_count + book_npl_events as npl_events,
        -- R-S4 D3 银行贷款: -5 per overdue event, -10 per NPL event.
        cast(-(
            {{ var('d3_overdue_points') }} * (credit_overdue_count + book_overdue_events)
            + {{ var('d3_npl_points') }} * (credit_npl_count + book_npl_events)
        ) as integer) as d3,
        -- R-S6: every veto that holds, so the dashboard can say why (V3: a loan overdue, on the
        -- book or not, written off or not).
        case
            when veto_v1_vice or veto_v2_enforcement or has_overdue_loan or veto_v4_guarantee
                then
                    (case when veto_v1_vice then ['V1'] else cast([] as varchar[]) end)
                    || (case when veto_v2_enforcement then ['V2'] else cast([] as varchar[]) end)
                    || (case when has_overdue_loan then ['V3'] else cast([] as varchar[]) end)
                    || (case when veto_v4_guarantee then ['V4'] else cast([] as varchar[]) end)
            else cast([] as varchar[])
        end as vetoes
    from periods_with_collection
)

select * from final
