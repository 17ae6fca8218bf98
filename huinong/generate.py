"""Demo raw folders: a synthetic 湖滨区 金融扶贫 programme that reads like the real one.

The generator writes one canonical CSV per raw file of ``huinong.schema``. It is
vectorised end to end (numpy for the simulation, polars for formatting and
writing), so a million households take minutes, not hours. Each stage draws from
its own random stream, so the same (households, seed, start, end) always writes
the same bytes.

Internally money is integer fen (分), rates are integer millionths and dates are
integer days since 1970-01-01; nothing is formatted until the CSV is written.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from huinong import REPO_ROOT
from huinong.schema import (
    EDUCATION_LEVELS,
    ENTITIES,
    ENTITY_KINDS,
    HONORS,
    HOUSEHOLDS,
    INCOME_PROJECTS,
    LOANS,
    REPAYMENT_METHODS,
    REPAYMENTS,
    SCHEDULE,
    VILLAGES,
    RawFile,
)

VILLAGES_CSV = REPO_ROOT / "seeds" / "hubin_villages.csv"
EPOCH = date(1970, 1, 1)
NO_DATE = 10**9  # sentinel day for "never" / empty date cells
KEY = 1 << 40  # packs (loan or household index, value) into one sortable int64

# A real village of the district has 400-500 households; more households than the
# 47 real villages hold means synthetic villages in the other counties of 三门峡市.
HOUSEHOLDS_PER_VILLAGE = 450
OTHER_COUNTIES = (
    (411203, "陕州区", "河南陕州农村商业银行"),
    (411221, "渑池县", "河南渑池农村商业银行"),
    (411224, "卢氏县", "河南卢氏农村商业银行"),
    (411281, "义马市", "河南义马农村商业银行"),
    (411282, "灵宝市", "河南灵宝农村商业银行"),
)
# Only past 2,000 synthetic townships (about 9 million households) do neighbouring
# 洛阳 counties get used; the township code space of 三门峡 runs out there.
OVERFLOW_COUNTIES = (
    (410323, "新安县", "河南新安农村商业银行"),
    (410324, "栾川县", "河南栾川农村商业银行"),
    (410325, "嵩县", "河南嵩县农村商业银行"),
    (410326, "汝阳县", "河南汝阳农村商业银行"),
    (410327, "宜阳县", "河南宜阳农村商业银行"),
    (410328, "洛宁县", "河南洛宁农村商业银行"),
    (410329, "伊川县", "河南伊川农村商业银行"),
)
HUBIN_COUNTY = (411202, "湖滨区", "三门峡湖滨农村商业银行")
POSTAL_BANK = "中国邮政储蓄银行三门峡市分行"

# 1-5 year PBOC benchmark until the LPR reform of 2019-08-20, then LPR-like steps.
# (effective from, annual rate in millionths)
BENCHMARK_RATES = (
    (date(2015, 10, 24), 47_500),
    (date(2019, 8, 20), 43_500),
    (date(2019, 11, 20), 41_500),
    (date(2020, 4, 20), 38_500),
    (date(2022, 8, 22), 36_500),
    (date(2023, 8, 21), 34_500),
    (date(2024, 10, 21), 31_000),
    (date(2025, 5, 20), 30_000),
)

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严武戴孔常屈宁"
)
MALE_CHARS = "建国军民华伟强明平志福德文学立新永海长春生林山宝金全保中庆东有成卫勇刚俊杰涛鹏超辉磊峰斌亮根旺富贵胜利兵洪发忠战占双喜"
FEMALE_CHARS = "秀英兰芳玉桂梅珍凤花霞琴云丽娟红香莲艳敏静燕萍翠菊荣爱巧彩银素月"
TOWN_FIRST = "大小东西南北上下新老高石张王李陈杨赵马刘宋官龙凤金玉青白长安永宜观英常仓洪杜朱柏桃杏槐柳郭段崤函虢"
TOWN_SECOND = "营庄店头口桥河沟坡岭原寨峪湾集坪阳川关里堡塬庙铺渠洼村"
VILLAGE_PLACES = "庄沟坡岭洼湾河寨店营峪渠"
VILLAGE_PREFIXES = "东西南北上下前后大小新老石高柳槐杨桃杏枣榆松"
VILLAGE_PLACES_2 = "庄沟坡岭洼湾河寨店营峪渠头口门园原坪塬"

COOP_INDUSTRIES = (
    "苹果种植",
    "果品种植",
    "香菇种植",
    "中药材种植",
    "蔬菜种植",
    "畜禽养殖",
    "生猪养殖",
    "肉牛养殖",
    "核桃种植",
    "花椒种植",
    "烟叶种植",
    "农机服务",
)
COMPANY_BRANDS = (
    "天元金果绿源丰硕华康鑫农盛世惠民福瑞宏达众鑫黄河崤山函谷甘山虢州陕塬豫西天鹅仰韶"
    "秦岭金穗丰泽润农沃土康源恒丰嘉禾瑞丰兴农"
)
COMPANY_INDUSTRIES = ("农业科技", "食品", "果业", "牧业", "菌业", "生物科技", "农业开发", "农产品")

PRODUCT_POOR = "扶贫小额信贷"
PRODUCT_HOUSEHOLD = "农户小额信用贷款"
PRODUCT_ENTITY = "产业扶贫贷款"

QUARTERLY, MONTHLY, ANNUITY, BULLET = range(4)  # indexes into REPAYMENT_METHODS
ONTIME, LATE, DEFAULT, PREPAY = range(4)

# Credit shocks that cluster defaults in time and place (the dashboard's breaker
# history needs them): (name, first and last due date hit, scope, default
# probability for an exposed loan, before the village risk factor).
SHOCKS = (
    ("2018年倒春寒", date(2018, 6, 1), date(2018, 12, 31), "果", 0.05),
    ("2019年非洲猪瘟", date(2019, 4, 1), date(2019, 12, 31), "牧", 0.06),
    ("2020年新冠疫情", date(2020, 2, 1), date(2020, 6, 30), "all", 0.015),
    ("2021年秋汛", date(2021, 9, 1), date(2022, 3, 31), "flood", 0.09),
    ("2024年香菇滞销", date(2024, 3, 1), date(2024, 12, 31), "菌", 0.04),
)


@dataclass(frozen=True)
class _Span:
    start: int
    end: int

    @classmethod
    def of(cls, start: date, end: date) -> _Span:
        return cls(_day(start), _day(end))


def generate(
    out_dir: Path,
    households: int,
    seed: int,
    start: date = date(2017, 9, 1),
    end: date = date(2026, 10, 31),
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Write a canonical raw folder for `households` households; return rows per file."""
    if households < 1:
        raise ValueError("农户数必须是正整数")
    if end <= start:
        raise ValueError("结束日期必须晚于开始日期")
    say = progress or (lambda message: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    span = _Span.of(start, end)

    say("生成行政区划（行政村）…")
    villages = _make_villages(households, _rng(seed, 1))
    say(f"生成农户信用信息采集（{households:,} 户）…")
    people, rows = _make_households(villages, households, span, _rng(seed, 2))
    say("生成带贫经营主体…")
    entities = _make_entities(villages, span, _rng(seed, 3))
    say("生成贷款台账、还款计划与还款流水…")
    book = _make_book(villages, people, rows, entities, span, _rng(seed, 4))
    say("按熔断机制复核放款（熔断期间停止新增授信）…")
    book = _apply_breaker(book, villages, people, span, _rng(seed, 5))
    _record_credit_events(book, people, rows)

    say("写出 CSV 文件…")
    frames = {
        "villages": villages.frame,
        "households": _households_frame(villages, people, rows),
        "loans": _loans_frame(book, people, entities, villages),
        "schedule": None,
        "repayments": None,
        "entities": entities.frame,
    }
    frames["schedule"], frames["repayments"] = _schedule_and_payments_frames(book)
    raw_files = {
        "villages": VILLAGES,
        "households": HOUSEHOLDS,
        "loans": LOANS,
        "schedule": SCHEDULE,
        "repayments": REPAYMENTS,
        "entities": ENTITIES,
    }
    counts: dict[str, int] = {}
    for name, raw_file in raw_files.items():
        say(f"  写出 {name}.csv（{raw_file.label}）…")
        counts[name] = _write(raw_file, frames[name], out_dir / f"{name}.csv")
    say("生成完成。")
    return counts


# --------------------------------------------------------------------------- dates


def _rng(seed: int, stage: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed % (1 << 63), stage]))


def _day(value: date) -> int:
    return (value - EPOCH).days


def _as_dt(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]")


def _add_months(days: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """Same day-of-month `months` later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    dt = _as_dt(days)
    month = dt.astype("datetime64[M]")
    day_of_month = (dt - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(months, dtype=np.int64)
    last = (target + 1).astype("datetime64[D]").astype(np.int64) - 1
    return np.minimum(target.astype("datetime64[D]").astype(np.int64) + day_of_month, last)


def _workday(days: np.ndarray, latest: int) -> np.ndarray:
    """Move a Saturday or Sunday to the next Monday (or the Friday before, near `latest`)."""
    days = np.asarray(days, dtype=np.int64)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    later = days + np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))
    earlier = days - np.where(weekday == 5, 1, np.where(weekday == 6, 2, 0))
    return np.where(later <= latest, later, earlier)


def _month_ends(span: _Span) -> np.ndarray:
    first = _as_dt([span.start]).astype("datetime64[M]")[0]
    last = _as_dt([span.end]).astype("datetime64[M]")[0]
    months = np.arange(first, last + 1)
    ends = (months + 1).astype("datetime64[D]").astype(np.int64) - 1
    return ends[ends <= span.end]


def _twentieths(quarterly: bool) -> np.ndarray:
    """Every 20th (结息日) from 2000 to 2070: monthly, or March/June/September/December."""
    months = np.arange(np.datetime64("2000-01"), np.datetime64("2071-01"))
    if quarterly:
        months = months[(months.astype(np.int64) % 12 + 1) % 3 == 0]
    return months.astype("datetime64[D]").astype(np.int64) + 19


QUARTER_20THS = _twentieths(quarterly=True)
MONTH_20THS = _twentieths(quarterly=False)


def _benchmark(days: np.ndarray) -> np.ndarray:
    starts = np.array([_day(since) for since, _ in BENCHMARK_RATES])
    rates = np.array([rate for _, rate in BENCHMARK_RATES], dtype=np.int64)
    return rates[np.clip(np.searchsorted(starts, days, side="right") - 1, 0, None)]


def _split(total: int, weights: np.ndarray) -> np.ndarray:
    """Integer shares of `total` proportional to `weights` (largest remainder)."""
    raw = total * weights / weights.sum()
    base = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - base), kind="stable")
    base[order[: total - int(base.sum())]] += 1
    return base


def _choice(rng: np.random.Generator, size: int, weights: dict) -> np.ndarray:
    keys = list(weights)
    p = np.array([weights[key] for key in keys], dtype=float)
    return np.asarray(keys)[rng.choice(len(keys), size=size, p=p / p.sum())]


def _group_starts(groups: np.ndarray, n_groups: int) -> np.ndarray:
    """First position of each group in an array sorted by group."""
    return np.searchsorted(groups, np.arange(n_groups), side="left")


# --------------------------------------------------------------------------- villages


@dataclass
class _Villages:
    frame: pl.DataFrame
    township: np.ndarray  # township index of each village
    county: np.ndarray  # 6-digit county code of each village
    n_townships: int
    banks: list[str]  # the county bank of each township
    county_names: list[str]  # the county name of each township

    @property
    def n(self) -> int:
        return self.frame.height


def _make_villages(households: int, rng: np.random.Generator) -> _Villages:
    real = pl.read_csv(VILLAGES_CSV, infer_schema=False)
    needed = max(real.height, math.ceil(households / HOUSEHOLDS_PER_VILLAGE))
    extra = needed - real.height
    township_codes = list(dict.fromkeys(real["township_code"].to_list()))
    banks = [HUBIN_COUNTY[2]] * len(township_codes)
    county_names = [HUBIN_COUNTY[1]] * len(township_codes)
    frames = [real]
    if extra > 0:
        synthetic, synthetic_banks, synthetic_counties = _synthetic_villages(max(extra, 6), rng)
        frames.append(synthetic)
        banks += synthetic_banks
        county_names += synthetic_counties
    frame = pl.concat(frames)
    codes = frame["township_code"].to_numpy().astype(str)
    _, township = np.unique(codes, return_inverse=True)
    # np.unique sorts codes; real codes (411202…) sort before synthetic ones and the
    # synthetic ones were made in code order, so township indexes follow the frame.
    county = np.array([int(code[:6]) for code in frame["village_code"].to_list()], dtype=np.int64)
    return _Villages(frame, township.astype(np.int64), county, int(township.max()) + 1, banks, county_names)


def _synthetic_villages(count: int, rng: np.random.Generator) -> tuple[pl.DataFrame, list[str], list[str]]:
    sizes: list[int] = []
    remaining = count
    while remaining > 0:
        size = int(rng.integers(6, 15))
        if 0 < remaining - size < 6:
            size = remaining - 6 if remaining - 6 >= 6 else remaining
        size = min(size, remaining)
        sizes.append(size)
        remaining -= size
    n_townships = len(sizes)

    town_names = [a + b for a in TOWN_FIRST for b in TOWN_SECOND if a != b]
    town_order = rng.permutation(len(town_names))
    real_names = {"会兴", "崖底", "交口", "磁钟", "高庙"}
    village_stems = [s + "家" + p for s in SURNAMES[:40] for p in VILLAGE_PLACES]
    village_stems += [a + p for a in VILLAGE_PREFIXES for p in VILLAGE_PLACES_2]
    village_stems = list(dict.fromkeys(village_stems))

    rows = {"township_code": [], "township_name": [], "village_code": [], "village_name": []}
    banks, county_names = [], []
    next_code: dict[tuple[int, str], int] = {}
    name_cursor = 0
    counties = OTHER_COUNTIES + OVERFLOW_COUNTIES
    for index, size in enumerate(sizes):
        if index < 2000:
            county_code, county_name, bank = OTHER_COUNTIES[index % len(OTHER_COUNTIES)]
        else:
            county_code, county_name, bank = counties[(index - 2000) % len(counties)]
        # 镇 carry 1xx codes and 乡 2xx in the national scheme; fall back when one runs out.
        kind = "镇" if rng.random() < 0.6 else "乡"
        if next_code.get((county_code, kind), 0) >= 99:
            kind = "乡" if kind == "镇" else "镇"
        serial = next_code.get((county_code, kind), 0) + 1
        if serial > 99:
            raise ValueError("规模过大：合成乡镇数超出行政区划代码空间")
        next_code[(county_code, kind)] = serial
        township_code = f"{county_code}{(100 if kind == '镇' else 200) + serial:03d}"
        while True:
            stem = town_names[town_order[name_cursor % len(town_names)]]
            name_cursor += 1
            if stem not in real_names:
                break
        township_name = stem + kind
        stems = rng.choice(len(village_stems), size=size, replace=False)
        # Village committee codes start at 200 with the odd gap, as in the real list.
        suffixes = 200 + np.cumsum(np.where(rng.random(size) < 0.15, 2, 1)) - 1
        for stem_index, suffix in zip(stems, suffixes, strict=True):
            rows["township_code"].append(township_code)
            rows["township_name"].append(township_name)
            rows["village_code"].append(f"{township_code}{suffix:03d}")
            rows["village_name"].append(village_stems[stem_index] + "村")
        banks.append(bank)
        county_names.append(county_name)
    frame = pl.DataFrame(rows).sort("village_code")
    order = np.argsort(np.array([row[:9] for row in rows["township_code"][:: 1]]), kind="stable")
    # Townships are listed in code order so that their indexes match np.unique's.
    township_first = {}
    for code, bank, county_name in zip(
        dict.fromkeys(rows["township_code"]), banks, county_names, strict=True
    ):
        township_first[code] = (bank, county_name)
    del order
    ordered = sorted(township_first)
    return (
        frame,
        [township_first[code][0] for code in ordered],
        [township_first[code][1] for code in ordered],
    )
