"""The entry point: a whole demo raw folder for N households."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl

from huinong.demo.breaker import apply_breaker
from huinong.demo.collection_rows import record_credit_events
from huinong.demo.dates import Span
from huinong.demo.draws import stream
from huinong.demo.entities import make_entities
from huinong.demo.files import (
    households_frame,
    loans_frame,
    payments_frame,
    schedule_frame,
    write_csv,
)
from huinong.demo.geography import make_villages
from huinong.demo.households import make_households
from huinong.demo.loans import make_book
from huinong.policy import Policy, default_policy
from huinong.schema import ENTITIES, HOUSEHOLDS, LOANS, REPAYMENTS, SCHEDULE, VILLAGES, RawFile


def generate(
    out_dir: Path,
    households: int,
    seed: int,
    start: date = date(2017, 9, 1),
    end: date = date(2026, 10, 31),
    progress: Callable[[str], None] | None = None,
    policy: Policy | None = None,
) -> dict[str, int]:
    """Write a canonical raw folder for `households` households; return rows per file.

    The same (households, seed, start, end, policy) always writes the same bytes. The
    policy profile (Hubin's by default) sets the thresholds, terms and rate caps.
    """
    if households < 1:
        raise ValueError("农户数必须是正整数")
    if end <= start:
        raise ValueError("结束日期必须晚于开始日期")
    say = progress or (lambda message: None)
    policy = policy if policy is not None else default_policy()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    span = Span.of(start, end)

    say("生成行政区划（行政村）…")
    villages = make_villages(households, stream(seed, 1))
    say(f"生成农户信用信息采集（{households:,} 户）…")
    people, rows = make_households(villages, households, span, policy, stream(seed, 2))
    say("生成带贫经营主体…")
    entities = make_entities(villages, stream(seed, 3))
    say("生成贷款台账、还款计划与还款流水…")
    book = make_book(villages, people, rows, entities, span, policy, stream(seed, 4))
    say("按熔断机制复核放款（熔断期间停止新增授信）…")
    book = apply_breaker(book, villages, people, span, policy, stream(seed, 5))
    record_credit_events(book, rows, policy)

    say("写出 CSV 文件…")
    counts: dict[str, int] = {}

    def write(raw_file: RawFile, frame: pl.DataFrame) -> None:
        say(f"  写出 {raw_file.name}.csv（{raw_file.label}）…")
        counts[raw_file.name] = write_csv(raw_file, frame, out_dir / f"{raw_file.name}.csv")

    # One file at a time, freeing what is written, keeps the peak memory down at scale.
    write(VILLAGES, villages.frame)
    write(HOUSEHOLDS, households_frame(villages, people, rows))
    del rows
    write(LOANS, loans_frame(book, people, entities, villages))
    write(SCHEDULE, schedule_frame(book))
    write(REPAYMENTS, payments_frame(book))
    write(ENTITIES, entities.frame)
    say("生成完成。")
    return counts
