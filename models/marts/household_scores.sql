-- Contract mart: the score, grade and credit of every rated household at every snapshot date
-- (R-S1..R-S7, R-C1..R-C3). Item columns a1..a10, d1..d6 and poor_bonus hold signed points
-- (deductions negative); raw_score = 80 + all items; score is 0 when any veto holds.
-- village_code is the household's home village (R-B1), the same on every date.
-- available_credit (R-C2) = max(limit - outstanding on the book, 0), and 0 when the village or
-- township breaker was tripped at the latest month-end on or before as_of (credit_stopped, R-B3, with
-- its reason and month-end as int_credit_stops gives them).
-- collection_age_months and rating_stale (R-S1, a dashboard flag): how old the collection in use is, and
-- whether it is older than the policy's stale_collection_months (the yearly update).
-- Written year by year (materialization clustered_table): clustered by as_of for the dashboard
-- without sorting 100M rows at 1M households; within a year ordered by as_of, home village and
-- household, by one integer a household (household_order) so that the sort compares integers.
{{ config(
    materialized='clustered_table',
    rebuild_by={'household': 'household_id', 'stop_village': 'village_code'},
) }}

-- depends_on: {{ source('intake', 'moved_households') }}
-- depends_on: {{ source('intake', 'previous_credit_stops') }}

with

scores as not materialized (
    select * from {{ ref('int_household_scores_evaluated') }}
    where eval_kind = 'snapshot'
),

snapshots as not materialized (
    select * from {{ ref('int_snapshot_dates') }}
),

stops as not materialized (
    select * from {{ ref('int_credit_stops') }}
),

household_order as not materialized (
    select
        household_id,
        cast(row_number() over (order by village_code, household_id) as integer) as sort_rank
    from {{ ref('int_households_homed') }}
),

final as not materialized (
    select
        scores.household_id,
        scores.as_of,
        snapshots.is_month_end,
        scores.village_code,
        scores.township_code,
        scores.collected_on,
        scores.registered_poor,
        scores.a1,
        scores.a2,
        scores.a3,
        scores.a4,
        scores.a5,
        scores.a6,
        scores.a7,
        scores.a8,
        scores.a9,
        scores.a10,
        scores.d1,
        scores.d2,
        scores.d3,
        scores.d4,
        scores.d5,
        scores.d6,
        scores.poor_bonus,
        scores.overdue_events,
        scores.npl_events,
        scores.raw_score,
        scores.score,
        scores.grade,
        scores.credit_limit,
        scores.outstanding_principal,
        scores.loans_on_book,
        stops.credit_stopped,
        stops.stop_reason as credit_stop_reason,
        stops.stop_month_end as credit_stop_month_end,
        case
            when stops.credit_stopped then cast(0 as decimal(18, 2))
            else cast(greatest(scores.credit_limit - scores.outstanding_principal, 0) as decimal(18, 2))
        end as available_credit,
        scores.vetoes,
        -- R-S1 the collection in use: whole calendar months from collected_on to as_of (the largest
        -- n with collected_on + n months <= as_of, a month added by the calendar: 31 Jan + 1 month
        -- = 29 Feb), and stale when as_of is after collected_on + stale_collection_months months
        -- (exactly 12 months is not stale, one day more is).
        cast(
            datediff('month', scores.collected_on, scores.as_of)
            - cast(
                scores.collected_on + to_months(datediff('month', scores.collected_on, scores.as_of)) > scores.as_of
                as integer
            )
            as integer
        ) as collection_age_months,
        scores.as_of > scores.collected_on + to_months({{ var('stale_collection_months') }}) as rating_stale
    from scores
    inner join snapshots on scores.as_of = snapshots.as_of
    inner join stops
        on
            scores.as_of = stops.as_of
            and scores.village_code = stops.village_code
    inner join household_order on scores.household_id = household_order.household_id
    order by scores.as_of, household_order.sort_rank
)

select * from final
