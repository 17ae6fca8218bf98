-- The credit score (R-S1..R-S7) and grade (R-C1) of a household on each evaluation day D:
-- the latest collection on or before D (none: unrated, score NULL), its collected points, and the
-- items that depend on D: D3 loan-book events after collected_on (R-S7), D6's three-year window
-- (R-C3), and veto V3 (a loan overdue on D).
with

eval_dates as (
    select * from {{ ref('int_household_eval_dates') }}
),

collections as (
    select * from {{ ref('int_collections_scored') }}
),

loan_days as (
    select * from {{ ref('int_loan_days') }}
),

events as (
    select * from {{ ref('int_household_events') }}
),

-- R-S1: the latest collection with collected_on <= D.
evaluated_collections as materialized (
    select
        eval_dates.household_id,
        eval_dates.as_of,
        eval_dates.is_snapshot,
        collections.* exclude (household_id)  -- noqa: RF02
    from eval_dates
    asof left join collections
        on
            eval_dates.household_id = collections.household_id
            and eval_dates.as_of >= collections.collected_on
),

-- R-S7: loan-book events after collected_on and up to D. An overdue event needs
-- collected_on < due_on < D; an NPL event a first NPL date in (collected_on, D].
event_counts as (
    select
        evaluated_collections.household_id,
        evaluated_collections.as_of,
        count(*) filter (
            where events.event_kind = 'overdue'
            and events.event_on > evaluated_collections.collected_on
            and events.event_on < evaluated_collections.as_of
        ) as book_overdue_events,
        count(*) filter (
            where events.event_kind = 'npl'
            and events.event_on > evaluated_collections.collected_on
            and events.event_on <= evaluated_collections.as_of
        ) as book_npl_events
    from evaluated_collections
    inner join events on evaluated_collections.household_id = events.household_id
    where evaluated_collections.collected_on is not null
    group by evaluated_collections.household_id, evaluated_collections.as_of
),

-- The household's loans on D: outstanding on the book (R-C2) and any loan overdue (R-S6 V3,
-- on the book or not, written off or not).
household_loans as (
    select
        borrower_id as household_id,
        as_of,
        coalesce(sum(outstanding_principal) filter (where on_book), 0) as outstanding_principal,
        count(*) filter (where on_book) as loans_on_book,
        bool_or(dpd > 0) as has_overdue_loan,
        max(dpd) as max_dpd
    from loan_days
    where is_household_loan
    group by borrower_id, as_of
),

items as (
    select
        evaluated_collections.*,
        coalesce(household_loans.outstanding_principal, 0) as outstanding_principal,
        coalesce(household_loans.loans_on_book, 0) as loans_on_book,
        coalesce(household_loans.has_overdue_loan, false) as has_overdue_loan,
        coalesce(household_loans.max_dpd, 0) as max_dpd,
        evaluated_collections.credit_overdue_count
        + coalesce(event_counts.book_overdue_events, 0) as overdue_events,
        evaluated_collections.credit_npl_count
        + coalesce(event_counts.book_npl_events, 0) as npl_events,
        -- R-S4 D6 / R-C3: an enforcement record that ended on the same calendar day three years
        -- before D or later (29 February -> 28 February), or the dishonest-debtor list.
        -- Reading chosen: a record that ends after D counts too (it has not ended by D).
        evaluated_collections.is_dishonest_debtor
        or coalesce(
            evaluated_collections.enforcement_ended_on >= cast(
                evaluated_collections.as_of - interval {{ var('enforcement_lookback_years') }} year
                as date
            ),
            false
        ) as has_recent_enforcement
    from evaluated_collections
    left join event_counts
        on
            evaluated_collections.household_id = event_counts.household_id
            and evaluated_collections.as_of = event_counts.as_of
    left join household_loans
        on
            evaluated_collections.household_id = household_loans.household_id
            and evaluated_collections.as_of = household_loans.as_of
),

points as (
    select
        *,
        -- R-S4 D3 银行贷款: -5 per overdue event, -10 per NPL event (R-S7).
        -(
            {{ var('d3_overdue_points') }} * overdue_events
            + {{ var('d3_npl_points') }} * npl_events
        ) as d3,
        case when has_recent_enforcement then -{{ var('d6_points') }} else 0 end as d6,
        -- R-S6: every veto that holds, so the dashboard can say why.
        (case when veto_v1_vice then ['V1'] else cast([] as varchar[]) end)
        || (case when veto_v2_enforcement then ['V2'] else cast([] as varchar[]) end)
        || (case when has_overdue_loan then ['V3'] else cast([] as varchar[]) end)
        || (case when veto_v4_guarantee then ['V4'] else cast([] as varchar[]) end) as vetoes
    from items
),

scored as (
    select
        *,
        -- R-S2: base 80 plus every item; scores have no floor (R-C3).
        {{ var('base_score') }} + collected_points + d3 + d6 as raw_score
    from points
    where collected_on is not null
),

graded as (
    select
        *,
        -- R-S2: any veto makes the score 0 and the grade 无信用.
        case when len(vetoes) > 0 then 0 else raw_score end as score,
        case  -- noqa: LT02
            when len(vetoes) > 0 then '{{ var('no_credit_grade') }}'
            else {{ grade_of('raw_score') }}
        end as grade
    from scored
),

final as (
    select
        household_id,
        as_of,
        is_snapshot,
        collected_on,
        collected_village_code,
        registered_poor,
        a1,
        a2,
        a3,
        a4,
        a5,
        a6,
        a7,
        a8,
        a9,
        a10,
        d1,
        d2,
        cast(d3 as integer) as d3,
        d4,
        d5,
        d6,
        poor_bonus,
        credit_overdue_count,
        credit_npl_count,
        cast(overdue_events as integer) as overdue_events,
        cast(npl_events as integer) as npl_events,
        cast(raw_score as integer) as raw_score,
        cast(score as integer) as score,
        grade,
        {{ credit_limit_of('grade') }} as credit_limit,  -- noqa: LT02
        vetoes,
        cast(outstanding_principal as decimal(18, 2)) as outstanding_principal,
        cast(loans_on_book as integer) as loans_on_book,
        max_dpd
    from graded
)

select * from final
