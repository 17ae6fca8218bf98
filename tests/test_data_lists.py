"""The queries that had to be reshaped for 1,000,000 households return what a clerk reads on the
page, checked against the marts on the demo warehouse: the grade migration against the two dates'
household_scores rows joined, the first rows of a list (a preview, the credit-stop list) against
the start of its full download, a household's history against its household_scores rows."""

from __future__ import annotations

from collections import Counter

import polars as pl
import pytest

pytest.register_assert_rewrite("dashboard_support")
from dashboard_support import latest_as_of, query  # noqa: E402

from huinong import data  # noqa: E402
from huinong.auth import User  # noqa: E402

pytest_plugins = ("dashboard_support",)

OFFICE = User("jrb", "金融办甲", "office")


@pytest.fixture
def as_of(app_db):
    return latest_as_of(app_db)


def _month_ends(db, before):
    """Month-ends before ``before``, latest first."""
    return [
        row[0]
        for row in query(
            db,
            """
            select as_of from main.kpi_monthly
            where scope_level = 'district' and is_month_end and as_of < ?
            order by as_of desc
            """,
            [before],
        )
    ]


def _migration_by_households(db, earlier, later, township=None) -> Counter:
    """(from_grade, to_grade) → households, household by household from household_scores."""
    where = "and township_code = ?" if township else ""
    extra = [township] if township else []
    grades: dict[str, list] = {}
    for position, day in enumerate((earlier, later)):
        for household, grade in query(
            db,
            f"select household_id, grade from main.household_scores where as_of = ? {where}",
            [day, *extra],
        ):
            grades.setdefault(household, ["未评级", "未评级"])[position] = grade
    return Counter(tuple(pair) for pair in grades.values())


def _as_counter(migration: pl.DataFrame) -> Counter:
    return Counter(
        {(row["from_grade"], row["to_grade"]): row["households"] for row in migration.to_dicts()}
    )


def test_grade_migration_a_year_back_counts_every_household(app_db, as_of):
    """The district's migration since the month-end a year before (the page's default), read
    from the grade changes, is the household-by-household comparison of the two dates."""
    token = data.current_warehouse()
    district = data.authorize(OFFICE)
    year_before = next(day for day in _month_ends(app_db, as_of) if (as_of - day).days >= 360)
    migration = data.grade_migration(token, year_before, as_of, district)
    expected = _migration_by_households(app_db, year_before, as_of)
    assert _as_counter(migration) == expected
    # What the page's cards read: households that fell to 无信用, and those that went A → AA.
    fell = sum(n for (before, after), n in expected.items() if after == "无信用" != before)
    assert fell > 0
    assert (
        migration.filter((pl.col("to_grade") == "无信用") & (pl.col("from_grade") != "无信用"))[
            "households"
        ].sum()
        == fell
    )
    # Households rated since then come from 未评级; every household rated now is counted once.
    rated_now = query(
        app_db,
        "select households_rated from main.kpi_monthly where scope_level = 'district' and as_of = ?",
        [as_of],
    )[0][0]
    assert migration.filter(pl.col("to_grade") != "未评级")["households"].sum() == rated_now
    assert migration.filter(pl.col("from_grade") == "未评级")["households"].sum() > 0
    assert migration.schema == pl.Schema(
        {"from_grade": pl.String, "to_grade": pl.String, "households": pl.Int64}
    )


def test_grade_migration_from_other_dates_and_areas(app_db, as_of, accounts_env):
    """The programme's first month-end (nearly every household rated since), last month, a date
    that is no snapshot, the dates reversed, and a township: each the household-by-household
    comparison."""
    token = data.current_warehouse()
    district = data.authorize(OFFICE)
    month_ends = _month_ends(app_db, as_of)
    for earlier, later in (
        (month_ends[-1], as_of),
        (month_ends[0], as_of),
        (month_ends[24], month_ends[12]),
        (month_ends[0].replace(day=15), as_of),
        (as_of, month_ends[12]),
    ):
        migration = data.grade_migration(token, earlier, later, district)
        assert _as_counter(migration) == _migration_by_households(app_db, earlier, later), (
            earlier,
            later,
        )
    township = accounts_env.township
    migration = data.grade_migration(token, month_ends[12], as_of, data.authorize(OFFICE, township))
    assert _as_counter(migration) == _migration_by_households(
        app_db, month_ends[12], as_of, township
    )


def test_grade_changes_replay_every_households_grade(app_db, as_of):
    """household_grade_changes: a household's grade on a date is the grade of its last change on
    or before it, for every household rated on that date."""
    for day in (as_of, _month_ends(app_db, as_of)[30]):
        mismatched, rated = query(
            app_db,
            """
            with

            replayed as (
                select household_id, arg_max(grade, as_of) as grade
                from main.household_grade_changes
                where as_of <= $day
                group by household_id
            ),

            scores as (
                select household_id, grade from main.household_scores where as_of = $day
            )

            select
                count(*) filter (where replayed.grade is distinct from scores.grade),
                count(scores.household_id),
            from scores
            full outer join replayed on scores.household_id = replayed.household_id
            """,
            {"day": day},
        )[0]
        assert rated > 1000
        assert mismatched == 0, day


def _full_download(report: str, as_of, township=None) -> pl.DataFrame:
    scope = data.authorize(OFFICE, township, purpose="export")
    batches = list(data.stream_report(data.current_warehouse(), report, as_of, scope))
    return pl.concat(batches)


@pytest.mark.parametrize(
    "report", ["credit_households", "grade_notice", "households", "credit_stops"]
)
def test_a_list_preview_is_the_start_of_its_download(app_db, as_of, report):
    """The 报表导出 page's preview of a named list shows the first rows of the file it downloads:
    the same households, names and ID numbers, in the same order."""
    token = data.current_warehouse()
    preview = data.report_preview(token, report, as_of, data.authorize(OFFICE), 200)
    full = _full_download(report, as_of)
    assert preview.height == min(200, full.height) > 0
    assert preview.equals(full.head(preview.height))


def test_the_credit_stop_list_names_the_first_stopped_households(app_db, as_of, accounts_env):
    """熔断监测's list of households under a credit stop: the first rows (a page shows at most
    MAX_ROWS) are the start of the full list, each with its head's name and stop reason; a
    township without a stop lists none."""
    token = data.current_warehouse()
    district = data.authorize(OFFICE)
    full = _full_download("credit_stops", as_of)
    stopped = data.credit_stop_count(token, as_of, district)
    assert full.height == stopped > 30
    for limit in (1, 30, stopped):
        first = data.credit_stops(token, as_of, district, limit)
        assert first.equals(full.head(limit)), limit
    assert set(full["stop_reason"]) <= {"本村熔断", "所在乡镇熔断", "本村及所在乡镇熔断"}
    assert full["head_name"].null_count() == 0
    # The last listed household of the first 30 is named as in household_register.
    last = data.credit_stops(token, as_of, district, 30).row(-1, named=True)
    (name,) = query(
        app_db,
        """
        select register.head_name
        from main.household_scores as scores
        inner join main.household_register as register
            on register.household_id = scores.household_id
            and register.collected_on = scores.collected_on
        where scores.as_of = ? and scores.household_id = ?
        """,
        [as_of, last["household_id"]],
    )[0]
    assert last["head_name"] == name
    quiet = query(
        app_db,
        """
        select township_code from main.household_scores where as_of = ?
        group by township_code having not bool_or(credit_stopped) order by township_code limit 1
        """,
        [as_of],
    )
    if quiet:
        none = data.credit_stops(token, as_of, data.authorize(OFFICE, quiet[0][0]))
        assert none.height == 0 and none.columns == full.columns
