"""The benchmark command at a tiny size: it runs and reports every field (timings are not tested)."""

import json

from huinong.bench import run_bench


def test_bench_reports_every_field_at_a_tiny_size(tmp_path):
    out = tmp_path / "bench.json"
    lines: list[str] = []
    report = run_bench([300], out=out, seed=5, progress=lines.append, work_dir=tmp_path / "work")
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["results"] == report["results"]
    assert {"cpus", "memory_gib", "duckdb"} <= set(saved["machine"])
    (result,) = saved["results"]
    assert result["households"] == 300
    assert result["generate"]["seconds"] > 0 and result["generate"]["peak_rss_gib"] > 0
    build = result["build"]
    assert {"intake", "dbt", "tests", "publish", "total"} <= set(build["stages_seconds"])
    assert "household_scores" in build["models_seconds"]
    assert build["peak_rss_gib"] > 0 and build["file_bytes"] > 0
    # CPU seconds of the build's process tree beside its wall time, with the machine's load.
    assert build["cpu_seconds"] > 0 and build["load_start"] >= 0 and build["load_end"] >= 0
    assert build["stages_cpu_seconds"]["dbt"] > 0
    assert build["models_cpu_seconds"]["household_scores"] > 0
    # A single-process build cannot use more CPU than its wall time on every core.
    assert build["cpu_seconds"] <= build["seconds"] * saved["machine"]["cpus"] + 1
    assert len(saved["load_average_start"]) == 3 and len(saved["load_average_end"]) == 3
    assert set(build["row_counts"]) == {
        "household_scores", "loan_status", "village_breaker", "township_breaker", "kpi_monthly",
    }  # fmt: skip
    assert build["row_counts"]["household_scores"] > 0
    monthly = result["incremental_build"]
    assert monthly["mode"] in ("incremental", "full")
    assert monthly["seconds"] > 0 and monthly["share_of_full_build"] > 0
    assert monthly["cpu_seconds"] > 0 and monthly["cpu_share_of_full_build"] > 0
    assert {"intake", "dbt"} <= set(monthly["stages_seconds"])
    # Timed twice, before and after the full build; the share is taken from their mean.
    again = monthly["after_full_build"]
    assert again["cpu_seconds"] > 0
    mean = (monthly["cpu_seconds"] + again["cpu_seconds"]) / 2
    # (each timing is saved rounded to 0.1 s)
    assert abs(monthly["mean_cpu_seconds"] - mean) <= 0.1
    assert abs(monthly["mean_cpu_share_of_full_build"] - mean / build["cpu_seconds"]) < 0.01
    queries = result["queries"]
    assert len(queries) >= 20
    assert all(q["cold_ms"] >= 0 and q["warm_p95_ms"] >= q["warm_p50_ms"] for q in queries)
    assert result["queries_summary"]["count"] == len(queries)
    assert any("households" in line and "build s wall/cpu" in line for line in lines)
