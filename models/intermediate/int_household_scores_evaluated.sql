-- The credit score (R-S1..R-S7) and grade (R-C1) of a household on each evaluation day D: every
-- snapshot date (eval_kind 'snapshot', read by household_scores) and every day one of its loans was
-- disbursed (eval_kind 'disbursement', read by loan_compliance for R-X1, R-X2). D is looked up in
-- the household's timeline (the collection in force, its loans, D3 and the vetoes, which stay the
-- same through a period); D6's three-year window (R-C3) is evaluated on D itself. Unrated days
-- (no collection yet) have no row.
-- A view: household_scores writes it one year at a time and the filter on as_of reaches the inputs.
-- depends_on: {{ source('intake', 'touched_loans') }}
-- depends_on: {{ source('intake', 'touched_households') }}
-- depends_on: {{ source('intake', 'touched_townships') }}
with

timeline as not materialized (
    select * from {{ ref('int_household_timeline') }}
    where collected_on is not null
),

snapshots as not materialized (
    select * from {{ ref('int_snapshot_dates') }}
),

-- In a monthly build (macros/incremental.sql) the disbursement days are those of the loans
-- loan_compliance judges again: this view then holds no other disbursement day.
loans as not materialized (
    select * from {{ ref('int_loans_summarised') }}
    where {{ rejudged_loans_predicate('loan_id', 'borrower_id', 'disbursed_on', 'township_code') if var('incremental_from') else 'true' }}
),

snapshot_days as not materialized (
    select
        snapshots.as_of,
        'snapshot' as eval_kind,
        timeline.*
    from timeline
    inner join snapshots
        on
            snapshots.as_of >= timeline.valid_from
            and snapshots.as_of < timeline.valid_until
),

disbursement_days as not materialized (
    select distinct on (timeline.household_id, loans.disbursed_on)
        loans.disbursed_on as as_of,
        'disbursement' as eval_kind,
        timeline.*
    from loans
    inner join timeline
        on
            loans.borrower_id = timeline.household_id
            and loans.disbursed_on >= timeline.valid_from
            and loans.disbursed_on < timeline.valid_until
    where
        loans.is_household_loan
        and loans.disbursed_on <= (select max(snapshots.as_of) from snapshots)
),

eval_days as not materialized (
    select * from snapshot_days
    union all
    select * from disbursement_days
),

points as not materialized (
    select
        *,
        -- R-S4 D6 / R-C3: an enforcement record that ended on the same calendar day three years
        -- before D or later (29 February -> 28 February; see int_collections_scored), or the
        -- dishonest-debtor list. Reading: a record that ends after D counts too ("or later").
        case
            when is_dishonest_debtor or as_of <= enforcement_counts_until then -{{ var('d6_points') }}
            else 0
        end as d6
    from eval_days
),

scored as not materialized (
    select
        *,
        -- R-S2: base 80 plus every item; scores have no floor (R-C3).
        {{ var('base_score') }} + collected_points + d3 + d6 as raw_score
    from points
),

graded as not materialized (
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

final as not materialized (
    select
        household_id,
        as_of,
        eval_kind,
        collected_on,
        collected_village_code,
        village_code,
        township_code,
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
        d3,
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
        cast(loans_on_book as integer) as loans_on_book
    from graded
)

select * from final
