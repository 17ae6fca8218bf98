-- Each household's history as periods [valid_from, valid_until) during which everything its score
-- depends on — apart from D6's three-year window, a function of the day itself — stays the same:
-- the collection in force (R-S1), its loans' outstanding principal on the book (R-C2), whether any
-- loan is overdue (R-S6 V3), and its loan-book events since that collection (R-S7). The parts of
-- the score that are constant through a period are computed here: D3 and the vetoes.
-- A period starts at a collection or at a change of one of its loans (int_loan_changes); periods
-- before the first collection have no collection (unrated, R-S1). The score on any day D is read
-- from the period containing D (int_household_scores_evaluated).
-- One pass in day order per household adds up its loans' changes and follows its collections:
-- no join by date range. Each period keeps its running counts (overdue_loans, the events to date,
-- the collection's baseline), so that a monthly build continues a household's history from them.
-- A monthly build (macros/incremental.sql, timeline_continued) recomputes a touched household's
-- periods from incremental_from on only, starting from its period in force the day before, when
-- nothing before that day can have changed: it did not move village (R-B1) and that period began
-- before the day before. The delivery holds nothing dated before incremental_from (the plan refuses
-- it), so the loan changes and collections before it are those the period was computed from. Every
-- other touched household (moved, new, or with a period from the day before) is recomputed whole.
-- The period in force then ends at the first period recomputed (post_hook).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook=["{{ timeline_continued() }}", "{{ delete_timeline_recomputed() }}"],
    post_hook="{{ end_timeline_continued() }}",
) }}

-- depends_on: {{ source('intake', 'touched_households') }}
-- depends_on: {{ source('intake', 'moved_households') }}

{%- set continuing = is_monthly_increment() %}
{%- set month_from = "date '" ~ var('incremental_from') ~ "'" if continuing else none %}

with

collections as (
    select * from {{ ref('int_collections_scored') }}
    where {{ touched('household_id', 'touched_households') }}
),

loan_changes as (
    select * from {{ ref('int_loan_changes') }}
    where is_household_loan and {{ touched('borrower_id', 'touched_households', 'household_id') }}
),

households as (
    select * from {{ ref('int_households_homed') }}
    where {{ touched('household_id', 'touched_households') }}
),

-- A continued household's period in force on the day before incremental_from, with its running
-- counts: the start of its recomputed periods (none in a full build).
continued as (
    {%- if continuing %}
        select * from timeline_continued
    {%- else %}
        select
            cast(null as varchar) as household_id,
            cast(null as decimal(18, 2)) as outstanding_principal,
            cast(null as integer) as loans_on_book,
            cast(null as integer) as overdue_loans,
            cast(null as integer) as overdue_events_to_date,
            cast(null as integer) as npl_events_to_date,
            cast(null as date) as collected_on,
            cast(null as integer) as collection_overdue_events_before,
            cast(null as integer) as collection_npl_events_before
        where false
    {%- endif %}
),

-- Every day on which something changes for a household: its loans' changes, its collections
-- (a continued household's from incremental_from on).
household_days as (
    select
        household_id,
        day_on,
        -- Narrow types: the window below runs over every day of every household.
        cast(sum(outstanding_change) as decimal(18, 2)) as outstanding_change,
        cast(sum(loans_on_book_change) as integer) as loans_on_book_change,
        cast(sum(overdue_loans_change) as integer) as overdue_loans_change,
        cast(sum(overdue_events) as integer) as overdue_events,
        cast(sum(npl_events) as integer) as npl_events,
        -- The collection made that day, if any.
        max(collected_here) as collected_here
    from (
        select
            borrower_id as household_id,
            changed_on as day_on,
            outstanding_change,
            loans_on_book_change,
            overdue_loans_change,
            overdue_events,
            npl_events,
            cast(null as date) as collected_here
        from loan_changes
        {%- if continuing %}
            where
                changed_on >= {{ month_from }}
                or borrower_id not in (select continued.household_id from timeline_continued as continued)
        {%- endif %}
        union all
        select
            household_id,
            collected_on as day_on,
            0 as outstanding_change,
            0 as loans_on_book_change,
            0 as overdue_loans_change,
            0 as overdue_events,
            0 as npl_events,
            collected_on as collected_here
        from collections
        {%- if continuing %}
            where
                collected_on >= {{ month_from }}
                or household_id not in (select continued.household_id from timeline_continued as continued)
        {%- endif %}
    ) as changes_and_collections
    group by household_id, day_on
),

-- The household's loans added up, from each day on; events counted from the first loan on:
-- overdue_events_to_date(D) = instalments due before D not covered by the end of their due date,
-- npl_events_to_date(D) = loans with a first NPL date on or before D.
running as (
    select
        household_id,
        day_on as valid_from,
        coalesce(lead(day_on) over household_days_in_order, date '9999-12-31') as valid_until,
        cast(sum(outstanding_change) over household_history as decimal(18, 2)) as outstanding_principal,
        cast(sum(loans_on_book_change) over household_history as integer) as loans_on_book,
        cast(sum(overdue_loans_change) over household_history as integer) as overdue_loans,
        cast(sum(overdue_events) over household_history as integer) as overdue_events_to_date,
        cast(sum(npl_events) over household_history as integer) as npl_events_to_date,
        -- R-S1: the collection in force is the latest on or before the day (collections only move
        -- forward in time, so it is the greatest so far).
        max(collected_here) over household_history as collected_on,
        -- The overdue events that start counting the day after (an instalment due that day).
        case
            when lead(day_on) over household_days_in_order = day_on + 1
                then lead(overdue_events) over household_days_in_order
            else 0
        end as overdue_events_next_day
    from household_days
    window
        household_days_in_order as (partition by household_id order by day_on),
        household_history as (
            partition by household_id order by day_on rows unbounded preceding
        )
),

-- A continued household's counts carry on from its period in force before incremental_from.
periods as (
    select
        running.household_id,
        running.valid_from,
        running.valid_until,
        cast(coalesce(continued.outstanding_principal, 0) + running.outstanding_principal as decimal(18, 2))
            as outstanding_principal,
        cast(coalesce(continued.loans_on_book, 0) + running.loans_on_book as integer) as loans_on_book,
        cast(coalesce(continued.overdue_loans, 0) + running.overdue_loans as integer) as overdue_loans,
        cast(coalesce(continued.overdue_events_to_date, 0) + running.overdue_events_to_date as integer)
            as overdue_events_to_date,
        cast(coalesce(continued.npl_events_to_date, 0) + running.npl_events_to_date as integer)
            as npl_events_to_date,
        coalesce(running.collected_on, continued.collected_on) as collected_on,
        running.overdue_events_next_day
    from running
    left join continued on running.household_id = continued.household_id
),

-- R-S7 counts loan-book events strictly after collected_on: overdue events with due_on > collected_on
-- (those counted from collected_on + 2 on), NPL events dated after collected_on. What had happened by
-- then is subtracted: the counts on the collection's day (and the next day's overdue events).
-- A continued household's collection in force before incremental_from keeps its baseline.
collections_with_baseline as (
    select
        collections.*,
        periods.npl_events_to_date as npl_events_before,
        periods.overdue_events_to_date + periods.overdue_events_next_day as overdue_events_before
    from collections
    inner join periods
        on
            collections.household_id = periods.household_id
            and collections.collected_on = periods.valid_from
    union all by name
    select
        collections.*,
        continued.collection_npl_events_before as npl_events_before,
        continued.collection_overdue_events_before as overdue_events_before
    from collections
    inner join continued
        on
            collections.household_id = continued.household_id
            and collections.collected_on = continued.collected_on
),

periods_with_collection as (
    select
        periods.household_id,
        -- R-B1: the home village, the same for every period.
        households.village_code,
        households.township_code,
        periods.valid_from,
        periods.valid_until,
        periods.outstanding_principal,
        periods.loans_on_book,
        periods.overdue_loans > 0 as has_overdue_loan,
        -- Never negative: on collected_on itself an instalment due that day is not yet counted.
        greatest(
            periods.overdue_events_to_date - coalesce(collections.overdue_events_before, 0), 0
        ) as book_overdue_events,
        periods.npl_events_to_date - coalesce(collections.npl_events_before, 0)
            as book_npl_events,
        collections.* exclude (household_id, valid_until, overdue_events_before, npl_events_before),  -- noqa: RF02
        -- The running counts a monthly build continues from.
        periods.overdue_loans,
        periods.overdue_events_to_date,
        periods.npl_events_to_date,
        collections.overdue_events_before as collection_overdue_events_before,
        collections.npl_events_before as collection_npl_events_before
    from periods
    inner join households on periods.household_id = households.household_id
    left join collections_with_baseline as collections
        on
            periods.household_id = collections.household_id
            and periods.collected_on = collections.collected_on
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
