"""Every query the dashboard makes: parameterised SQL over the marts, returning polars.

Pages call ``data.<query>(token, as_of, scope, …)``; the queries live in one module per page or
concern (connection, scope, divisions, overview, grades, breaker, household_lists, village, intake,
reports, bench) and are all re-exported here.

Rules this package keeps, so that the same app serves 20,000 households or 1,000,000:
- The app reads only marts (never staging or the dbt project): the contract marts, the
  drill-down marts (household_register, loan_book, loan_instalments, loan_payments),
  household_grade_changes (the grade migration), policy_profile, quarantine and load_report.
- Every query takes the scope (district, township or village) as a parameter and filters on
  ``as_of`` first, then ``township_code`` / ``village_code``: household_scores and loan_status
  are sorted by (as_of, village_code, household / borrower) within each year, the drill-down
  marts by (village_code, borrower), so DuckDB's zone maps skip everything else. The scope's
  filter is one of three fixed SQL fragments (huinong.data.scope); values always travel as
  parameters.
- Every statement runs through one core function (huinong.data.connection), handed the scope it
  covers; a Scope is only issued by ``authorize(user, township, village)`` (huinong.data.scope):
  the request intersected with the signed-in user's own area, with what the user may read of
  households. The core refuses anything else, household queries refuse a user without
  ``view_named_households``, and ID numbers and the V1/V2 vetoes are redacted in SQL.
- Aggregation happens in SQL; a household list never returns more than ``MAX_ROWS`` rows
  (downloads stream the full result from SQL with ``stream_report``).
- Results are cached with ``st.cache_data``; every argument, including the warehouse token
  (path, inode, mtime), is part of the key, so a newly published warehouse (``os.replace``)
  gets a new connection and fresh results without a restart.
- The connection is read-only and locked down: no file or network access, no extensions.
"""

from huinong.data.attention import attention_list
from huinong.data.bench import bench_calls
from huinong.data.breaker import breaker_history, township_breaker, village_breaker
from huinong.data.connection import (
    HISTORY_MONTHS,
    MAX_ROWS,
    STREAM_BATCH_ROWS,
    Warehouse,
    WarehouseMissing,
    current_warehouse,
    open_connection,
    open_shared_connection,
    warehouse_path,
    warehouse_problem,
)
from huinong.data.divisions import (
    build_info,
    household_home,
    place_names,
    policy,
    previous_month_end,
    snapshot_dates,
    townships,
    villages,
)
from huinong.data.freshness import rating_freshness
from huinong.data.grades import (
    grade_distribution,
    grade_migration,
    item_contributions,
    poor_coverage,
    score_distribution,
)
from huinong.data.household_lists import (
    HOUSEHOLD_ORDERINGS,
    credit_stop_count,
    credit_stops,
    household_count,
    households,
)
from huinong.data.intake import (
    load_report,
    quarantine,
    quarantine_count,
    quarantine_reasons,
    stream_quarantine,
)
from huinong.data.overview import (
    KPI_COLUMNS,
    kpi,
    kpi_trend,
    townships_near_line,
    village_changes,
)
from huinong.data.reasons import score_conditions, veto_causes
from huinong.data.reports import (
    DOWNLOADS,
    ID_REPORTS,
    NAMED_REPORTS,
    REPORTS,
    report_preview,
    report_row_count,
    stream_report,
)
from huinong.data.scope import Scope, authorize
from huinong.data.search import SEARCH_LIMIT, SearchRefused, find_households
from huinong.data.trips import township_trip, village_npl_loans, village_trip
from huinong.data.village import (
    area_table,
    household,
    household_history,
    household_loans,
    loan_history,
    loan_instalments,
    loan_repayments,
)
from huinong.data.warning import early_warning, early_warning_loans

__all__ = [
    "DOWNLOADS",
    "HISTORY_MONTHS",
    "HOUSEHOLD_ORDERINGS",
    "KPI_COLUMNS",
    "ID_REPORTS",
    "MAX_ROWS",
    "NAMED_REPORTS",
    "REPORTS",
    "SEARCH_LIMIT",
    "STREAM_BATCH_ROWS",
    "Scope",
    "SearchRefused",
    "Warehouse",
    "WarehouseMissing",
    "area_table",
    "attention_list",
    "authorize",
    "bench_calls",
    "breaker_history",
    "build_info",
    "credit_stop_count",
    "credit_stops",
    "current_warehouse",
    "early_warning",
    "early_warning_loans",
    "find_households",
    "grade_distribution",
    "grade_migration",
    "household",
    "household_count",
    "household_history",
    "household_home",
    "household_loans",
    "households",
    "item_contributions",
    "kpi",
    "kpi_trend",
    "load_report",
    "loan_history",
    "loan_instalments",
    "loan_repayments",
    "open_connection",
    "open_shared_connection",
    "place_names",
    "policy",
    "poor_coverage",
    "previous_month_end",
    "quarantine",
    "quarantine_count",
    "quarantine_reasons",
    "rating_freshness",
    "report_preview",
    "report_row_count",
    "score_conditions",
    "score_distribution",
    "snapshot_dates",
    "stream_quarantine",
    "stream_report",
    "township_breaker",
    "township_trip",
    "townships",
    "townships_near_line",
    "veto_causes",
    "village_breaker",
    "village_changes",
    "village_npl_loans",
    "village_trip",
    "villages",
    "warehouse_path",
    "warehouse_problem",
]
