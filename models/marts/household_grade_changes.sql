-- Each rated household's grade changes, for the dashboard's grade migration between two dates
-- (信用等级迁移, a dashboard convenience): one row per household x snapshot date on which its grade
-- (R-C1, household_scores.grade) differs from its grade at the snapshot date before, its first rated
-- date included (previous_grade null: not rated before, R-S1). A household rated on a date stays
-- rated on every later one (R-S1, tested on household_scores by one_row_per_member), so its grade on
-- any date is its grade at its last change on or before it, and two dates' grades differ only for the
-- few households with a change between them (about 4% a year): the migration reads those instead of
-- joining two dates' million rows on household_id.
-- village_code / township_code: the household's home village (R-B1), as in household_scores.
-- Written year by year (materialization clustered_table), ordered by as_of and village within each
-- year so that the dashboard's filters (a range of dates, a township or village) skip the rest. A
-- monthly increment rewrites the dates from incremental_from on, and every row of the households
-- that moved (their whole history in household_scores is rewritten); household_scores' other earlier
-- rewrites (credit stops) do not touch a grade.
{{ config(
    materialized='clustered_table',
    sort_by=['as_of', 'village_code', 'household_id'],
    rebuild_by={'household': 'household_id', 'home_village': 'village_code'},
) }}

with

scores as not materialized (
    select
        household_id,
        as_of,
        village_code,
        township_code,
        grade
    from {{ ref('household_scores') }}
),

snapshots as not materialized (
    select
        as_of,
        lag(as_of) over (order by as_of) as previous_as_of
    from {{ ref('int_snapshot_dates') }}
),

-- Each household's grade at the snapshot date before, keyed by the date after it: a year's rows then
-- read that year's dates and the one before it only (the date filter reaches both sides).
previous_grades as not materialized (
    select
        snapshots.as_of,
        scores.household_id,
        scores.grade
    from scores
    inner join snapshots on scores.as_of = snapshots.previous_as_of
),

final as not materialized (
    select
        scores.household_id,
        scores.as_of,
        scores.village_code,
        scores.township_code,
        previous_grades.grade as previous_grade,
        scores.grade
    from scores
    left join previous_grades
        on
            scores.as_of = previous_grades.as_of
            and scores.household_id = previous_grades.household_id
    where previous_grades.grade is distinct from scores.grade
)

select * from final
