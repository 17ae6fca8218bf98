"""A warehouse built by an earlier version, whose marts lack columns this version adds
(village_breaker.tripped_since …), gets a full build with the reason in words instead of a
monthly build that fails appending rows of the new shape."""

from __future__ import annotations

import duckdb

from huinong.demo import generate, split_last_month
from huinong.intake import accept_delivery
from huinong.mart_columns import declared_mart_columns
from huinong.warehouse import build


def test_the_declared_columns_are_read_from_the_marts_yaml():
    declared = declared_mart_columns()
    assert {"tripped_since", "npl_to_clear_breaker"} <= set(declared["village_breaker"])
    assert {"collection_age_months", "rating_stale"} <= set(declared["household_scores"])


def test_a_warehouse_without_the_new_columns_gets_a_full_build(tmp_path):
    generate(out_dir=tmp_path / "all", households=300, seed=11)
    split_last_month(tmp_path / "all", tmp_path / "history", tmp_path / "last_month")
    store = tmp_path / "store"
    accept_delivery(store, tmp_path / "history", source_label="历史数据")
    published = tmp_path / "warehouse.duckdb"
    build(raw_dir=store, db_path=published)
    # What an earlier version published: village_breaker without tripped_since.
    con = duckdb.connect(str(published))
    con.execute("alter table main.village_breaker drop column tripped_since")
    con.close()
    accept_delivery(store, tmp_path / "last_month", source_label="当月报送")
    messages: list[str] = []
    result = build(raw_dir=store, db_path=published, progress=messages.append)
    assert result.mode == "full"
    assert result.full_build_reason == (
        "已发布的数据仓库由旧版本程序构建，缺少新版本的列（village_breaker.tripped_since）"
    )
    assert any("需要全量构建：已发布的数据仓库由旧版本程序构建" in line for line in messages)
    con = duckdb.connect(str(published), read_only=True)
    assert con.execute(
        "select count(*) from main.village_breaker where tripped and tripped_since is null"
    ).fetchone() == (0,)
    con.close()
