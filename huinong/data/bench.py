"""The benchmark's list of queries: every query of huinong.data with realistic arguments,
uncached (``python -m huinong bench``), as a 金融办 account would run them (the role that reads
the most: named lists, full ID numbers)."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from huinong.auth.scope import User
from huinong.data.connection import UNCACHED, Warehouse, frame
from huinong.data.divisions import snapshot_dates
from huinong.data.reports import DOWNLOADS, stream_report
from huinong.data.scope import authorize

BENCH_USER = User("bench", "基准测试", "office")


def bench_calls(token: Warehouse) -> list[tuple[str, Callable[[], object]]]:
    """Every query with realistic arguments, uncached, for ``python -m huinong bench`` to time:
    the latest as_of, the township and village with the most rated households, a household of
    that village with a loan, and one of its loans."""
    district = authorize(BENCH_USER)
    latest = snapshot_dates(token, district)["as_of"][0]
    month_ends = snapshot_dates(token, district).filter(pl.col("is_month_end"))["as_of"]
    year_before = month_ends[min(12, month_ends.len() - 1)]
    probe = frame(
        token,
        district,
        """
        select scores.township_code, scores.village_code, scores.household_id,
            loans.loan_id,
        from main.household_scores as scores
        left join main.loan_status as loans
            on loans.as_of = scores.as_of and loans.borrower_id = scores.household_id
        where scores.as_of = $as_of
        order by count(*) over (partition by scores.village_code) desc,
            loans.loan_id is null, scores.household_id
        limit 1
        """,
        {"as_of": latest},
    ).row(0, named=True)
    township = authorize(BENCH_USER, probe["township_code"])
    village = authorize(BENCH_USER, probe["township_code"], probe["village_code"])
    township_export = authorize(BENCH_USER, probe["township_code"], purpose="export")
    household_id = probe["household_id"]
    loan_id = probe["loan_id"] or ""
    # Every query module registered its functions on import (huinong.data imports them all).
    raw = UNCACHED
    calls: list[tuple[str, Callable[[], object]]] = [
        ("build_info", lambda: raw["build_info"](token, district)),
        ("policy", lambda: raw["policy"](token, district)),
        ("snapshot_dates", lambda: raw["snapshot_dates"](token, district)),
        ("previous_month_end", lambda: raw["previous_month_end"](token, latest, district)),
        ("townships", lambda: raw["townships"](token, district)),
        ("villages", lambda: raw["villages"](token, township)),
        ("place_names", lambda: raw["place_names"](token, village)),
        ("household_home", lambda: raw["household_home"](token, latest, district, household_id)),
    ]
    for name, scope in (("district", district), ("township", township), ("village", village)):
        calls += [
            (f"kpi[{name}]", lambda scope=scope: raw["kpi"](token, latest, scope)),
            (f"kpi_trend[{name}]", lambda scope=scope: raw["kpi_trend"](token, latest, scope)),
            (f"village_changes[{name}]", lambda s=scope: raw["village_changes"](token, latest, s)),
            (
                f"townships_near_line[{name}]",
                lambda s=scope: raw["townships_near_line"](token, latest, s),
            ),
            (
                f"grade_distribution[{name}]",
                lambda s=scope: raw["grade_distribution"](token, latest, s, "village"),
            ),
            (
                f"poor_coverage[{name}]",
                lambda s=scope: raw["poor_coverage"](token, latest, s, "village"),
            ),
            (
                f"score_distribution[{name}]",
                lambda s=scope: raw["score_distribution"](token, latest, s),
            ),
            (
                f"item_contributions[{name}]",
                lambda s=scope: raw["item_contributions"](token, latest, s),
            ),
            (
                f"grade_migration[{name}]",
                lambda s=scope: raw["grade_migration"](token, year_before, latest, s),
            ),
            (f"village_breaker[{name}]", lambda s=scope: raw["village_breaker"](token, latest, s)),
            (
                f"township_breaker[{name}]",
                lambda s=scope: raw["township_breaker"](token, latest, s),
            ),
            (f"breaker_history[{name}]", lambda s=scope: raw["breaker_history"](token, latest, s)),
            (f"household_count[{name}]", lambda s=scope: raw["household_count"](token, latest, s)),
            # The UI lists households of one village; a 10,000-row list of a whole district or
            # township is what the download streams, so it is timed below as stream_report.
            *(
                [(f"households[{name}]", lambda s=scope: raw["households"](token, latest, s))]
                if name == "village"
                else []
            ),
            (f"credit_stops[{name}]", lambda s=scope: raw["credit_stops"](token, latest, s)),
            (
                f"credit_stop_count[{name}]",
                lambda s=scope: raw["credit_stop_count"](token, latest, s),
            ),
            (f"area_table[{name}]", lambda s=scope: raw["area_table"](token, latest, s)),
        ]
        for report in DOWNLOADS:
            calls.append(
                (
                    f"report_preview[{report},{name}]",
                    lambda r=report, s=scope: raw["report_preview"](token, r, latest, s),
                )
            )
            calls.append(
                (
                    f"report_row_count[{report},{name}]",
                    lambda r=report, s=scope: raw["report_row_count"](token, r, latest, s),
                )
            )
    calls += [
        (
            "grade_distribution[district,township]",
            lambda: raw["grade_distribution"](token, latest, district, "township"),
        ),
        (
            "poor_coverage[district,township]",
            lambda: raw["poor_coverage"](token, latest, district, "township"),
        ),
        ("household", lambda: raw["household"](token, latest, village, household_id)),
        (
            "household_history",
            lambda: raw["household_history"](token, latest, village, household_id),
        ),
        ("household_loans", lambda: raw["household_loans"](token, latest, village, household_id)),
        ("load_report", lambda: raw["load_report"](token, district)),
        ("quarantine_count", lambda: raw["quarantine_count"](token, district, "")),
        ("quarantine", lambda: raw["quarantine"](token, district, "")),
        ("quarantine_reasons", lambda: raw["quarantine_reasons"](token, district)),
        ("loan_history", lambda: raw["loan_history"](token, latest, village, loan_id)),
        (
            "loan_instalments",
            lambda: raw["loan_instalments"](token, latest, village, loan_id),
        ),
        ("loan_repayments", lambda: raw["loan_repayments"](token, latest, village, loan_id)),
        (
            "stream_report[credit_households,township]",
            lambda: sum(
                b.height for b in stream_report(token, "credit_households", latest, township_export)
            ),
        ),
    ]
    return calls
