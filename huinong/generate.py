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
# Past 990 synthetic townships (about 4.5 million households) the township codes of
# the other five counties run out (99 镇 1xx and 99 乡 2xx each) and 洛阳's are used.
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
TOWNSHIPS_PER_COUNTY = 198
REAL_TOWN_STEMS = {"会兴", "崖底", "交口", "磁钟", "高庙"}
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
    ("2018年倒春寒", date(2018, 6, 1), date(2018, 12, 31), "果", 0.02),
    ("2019年非洲猪瘟", date(2019, 4, 1), date(2019, 12, 31), "牧", 0.03),
    ("2020年新冠疫情", date(2020, 2, 1), date(2020, 6, 30), "all", 0.005),
    ("2021年秋汛", date(2021, 9, 1), date(2022, 3, 31), "flood", 0.07),
    ("2024年香菇滞销", date(2024, 3, 1), date(2024, 12, 31), "菌", 0.02),
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
    entities = _make_entities(villages, _rng(seed, 3))
    say("生成贷款台账、还款计划与还款流水…")
    book = _make_book(villages, people, rows, entities, span, _rng(seed, 4))
    say("按熔断机制复核放款（熔断期间停止新增授信）…")
    book = _apply_breaker(book, villages, people, span, _rng(seed, 5))
    _record_credit_events(book, rows)

    say("写出 CSV 文件…")
    counts: dict[str, int] = {}

    def write(raw_file: RawFile, frame: pl.DataFrame) -> None:
        say(f"  写出 {raw_file.name}.csv（{raw_file.label}）…")
        counts[raw_file.name] = _write(raw_file, frame, out_dir / f"{raw_file.name}.csv")

    # One file at a time, freeing what is written, keeps the peak memory down at scale.
    write(VILLAGES, villages.frame)
    write(HOUSEHOLDS, _households_frame(villages, people, rows))
    del rows
    write(LOANS, _loans_frame(book, people, entities, villages))
    write(SCHEDULE, _schedule_frame(book))
    write(REPAYMENTS, _payments_frame(book))
    write(ENTITIES, entities.frame)
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
    township: np.ndarray  # township index of each village, in order of first appearance
    n_townships: int
    banks: list[str]  # the county's rural commercial bank, per township
    county_names: list[str]  # per township

    @property
    def n(self) -> int:
        return self.frame.height


def _make_villages(households: int, rng: np.random.Generator) -> _Villages:
    real = pl.read_csv(VILLAGES_CSV, infer_schema=False).select(VILLAGES.column_names)
    needed = max(real.height, math.ceil(households / HOUSEHOLDS_PER_VILLAGE))
    frames = [real]
    county_of: dict[str, tuple[str, str]] = {}
    if needed > real.height:
        synthetic, county_of = _synthetic_villages(max(needed - real.height, 6), rng)
        frames.append(synthetic)
    frame = pl.concat(frames)
    townships = list(dict.fromkeys(frame["township_code"].to_list()))
    index = {code: position for position, code in enumerate(townships)}
    township = np.array([index[code] for code in frame["township_code"].to_list()])
    banks = [county_of.get(code, HUBIN_COUNTY[1:])[1] for code in townships]
    county_names = [county_of.get(code, HUBIN_COUNTY[1:])[0] for code in townships]
    return _Villages(frame, township.astype(np.int64), len(townships), banks, county_names)


def _township_sizes(count: int, rng: np.random.Generator) -> list[int]:
    """6-14 villages per township, adding up to `count` (the last ones adjusted)."""
    sizes: list[int] = []
    remaining = count
    while remaining > 0:
        size = min(int(rng.integers(6, 15)), remaining)
        if 0 < remaining - size < 6:
            size = remaining - 6 if remaining - 6 >= 6 else remaining
        sizes.append(size)
        remaining -= size
    return sizes


def _synthetic_villages(
    count: int, rng: np.random.Generator
) -> tuple[pl.DataFrame, dict[str, tuple[str, str]]]:
    town_names = [a + b for a in TOWN_FIRST for b in TOWN_SECOND if a != b]
    town_names = [name for name in dict.fromkeys(town_names) if name not in REAL_TOWN_STEMS]
    town_order = rng.permutation(len(town_names))
    stems = [s + "家" + p for s in SURNAMES[:40] for p in VILLAGE_PLACES]
    stems += [a + p for a in VILLAGE_PREFIXES for p in VILLAGE_PLACES_2 if a != p]
    stems = list(dict.fromkeys(stems))

    columns: dict[str, list[str]] = {name: [] for name in VILLAGES.column_names}
    county_of: dict[str, tuple[str, str]] = {}
    serials: dict[tuple[int, str], int] = {}
    sizes = _township_sizes(count, rng)
    home_share = len(OTHER_COUNTIES) * TOWNSHIPS_PER_COUNTY
    if len(sizes) > home_share + len(OVERFLOW_COUNTIES) * TOWNSHIPS_PER_COUNTY:
        raise ValueError("规模过大：合成乡镇数超出行政区划代码空间")
    for position, size in enumerate(sizes):
        if position < home_share:
            counties, index = OTHER_COUNTIES, position
        else:
            counties, index = OVERFLOW_COUNTIES, position - home_share
        county_code, county_name, bank = counties[index % len(counties)]
        # 镇 carry 1xx codes and 乡 2xx in the national scheme; switch when one runs out.
        kind = "镇" if rng.random() < 0.6 else "乡"
        if serials.get((county_code, kind), 0) >= TOWNSHIPS_PER_COUNTY // 2:
            kind = "乡" if kind == "镇" else "镇"
        serial = serials.get((county_code, kind), 0) + 1
        serials[(county_code, kind)] = serial
        township_code = f"{county_code}{(100 if kind == '镇' else 200) + serial:03d}"
        # Names repeat only after every stem was used once (then in another county).
        township_name = town_names[town_order[position % len(town_names)]] + kind
        county_of[township_code] = (county_name, bank)
        picked = rng.choice(len(stems), size=size, replace=False)
        # Village committee codes start at 200 with the odd gap, as in the real list.
        suffixes = 199 + np.cumsum(np.where(rng.random(size) < 0.15, 2, 1))
        for stem, suffix in zip(picked, suffixes, strict=True):
            columns["township_code"].append(township_code)
            columns["township_name"].append(township_name)
            columns["village_code"].append(f"{township_code}{suffix:03d}")
            columns["village_name"].append(stems[stem] + "村")
    return pl.DataFrame(columns).sort("village_code"), county_of


# --------------------------------------------------------------------------- households


@dataclass
class _People:
    """One entry per household: what does not change between collections."""

    home: np.ndarray  # village index of the first collection (and of the household id)
    seq: np.ndarray  # sequence number within the home village
    poor: np.ndarray  # 建档立卡 (registered poor)
    first: np.ndarray  # day of the first collection
    head_name: pl.Series
    head_id: pl.Series
    latest: np.ndarray  # village index of the latest collection (R-B1)
    tier: np.ndarray  # prosperity: 0 ordinary, 1 well-off, 2 prosperous
    base_overdue: np.ndarray  # credit report history before the programme
    base_npl: np.ndarray

    @property
    def n(self) -> int:
        return self.home.size


def _make_households(
    villages: _Villages, households: int, span: _Span, rng: np.random.Generator
) -> tuple[_People, dict[str, np.ndarray]]:
    n = households
    n_villages = villages.n
    sizes = _split(n, rng.lognormal(0.0, 0.25, n_villages))
    home = np.repeat(np.arange(n_villages), sizes)
    village_start = np.cumsum(sizes) - sizes

    # Registered-poor share varies by village; an exact quota keeps every village in range.
    poor_share = np.clip(rng.beta(4.0, 14.0, n_villages), 0.08, 0.34)
    order = np.lexsort((rng.random(n), home))
    rank_in_village = np.empty(n, np.int64)
    rank_in_village[order] = np.arange(n) - village_start[home[order]]
    poor = rank_in_village < np.round(poor_share * sizes)[home]

    # Most households are collected in the initial campaign, village by village; a few
    # new households join later.
    campaign_days = min(_day(date(2018, 6, 30)) - _day(date(2017, 9, 1)), span.end - span.start)
    village_open = span.start + rng.integers(0, max(campaign_days - 25, 1), n_villages)
    first = village_open[home] + rng.integers(0, 26, n)
    late = rng.random(n) < 0.06
    late_window = max(span.end - (span.start + campaign_days), 1)
    first = np.where(late, span.start + campaign_days + 1 + rng.integers(0, late_window, n), first)
    first = np.maximum(_workday(np.minimum(first, span.end), span.end), span.start)

    # Sequence numbers follow the order of first collection within the village.
    order = np.lexsort((rng.random(n), first, home))
    seq = np.empty(n, np.int64)
    seq[order] = np.arange(n) - village_start[home[order]] + 1

    male = rng.random(n) < 0.86
    birth = np.round(
        rng.triangular(_day(date(1950, 1, 1)), _day(date(1966, 6, 1)), _day(date(1995, 12, 31)), n)
    ).astype(np.int64)
    head_name = _names(male, rng)
    county = np.array([int(code[:6]) for code in villages.frame["village_code"].to_list()])
    head_id = _id_numbers(county[home], birth, male, rng)

    # Prosperity tiers make scores spread out as in real villages: a few well-off and
    # prosperous households (cadres, entrepreneurs) collect many add items at once.
    tier = np.where(
        poor, (rng.random(n) < 0.03).astype(np.int64), _choice(rng, n, {0: 0.75, 1: 0.15, 2: 0.10})
    )
    # Credit report history before the programme (D3): the well-off mostly have none.
    base_overdue = np.where(
        tier == 0,
        _choice(rng, n, {0: 0.86, 1: 0.085, 2: 0.035, 3: 0.012, 4: 0.005, 5: 0.003}),
        _choice(rng, n, {0: 0.95, 1: 0.04, 2: 0.01}),
    )
    base_npl = np.where(tier == 0, _choice(rng, n, {0: 0.975, 1: 0.02, 2: 0.005}), 0)
    people = _People(
        home, seq, poor, first, head_name, head_id, home.copy(), tier, base_overdue, base_npl
    )
    rows = _collections(villages, people, birth, span, rng)
    last_row = np.r_[np.flatnonzero(np.diff(rows["hh"])), rows["hh"].size - 1]
    people.latest = rows["village"][last_row]
    return people, rows


def _names(male: np.ndarray, rng: np.random.Generator) -> pl.Series:
    n = male.size
    surnames = list(SURNAMES)
    weights = 1.0 / (np.arange(len(surnames)) + 4.0) ** 1.1
    surname = rng.choice(len(surnames), size=n, p=weights / weights.sum())
    male_chars, female_chars = list(dict.fromkeys(MALE_CHARS)), list(dict.fromkeys(FEMALE_CHARS))
    first_char = np.where(
        male,
        rng.integers(0, len(male_chars), n),
        len(male_chars) + rng.integers(0, len(female_chars), n),
    )
    second_char = np.where(
        male,
        rng.integers(0, len(male_chars), n),
        len(male_chars) + rng.integers(0, len(female_chars), n),
    )
    single = rng.random(n) < 0.2
    chars = pl.Series(male_chars + female_chars)
    frame = pl.DataFrame(
        {
            "surname": pl.Series(surnames).gather(surname),
            "first": chars.gather(first_char),
            "second": chars.gather(second_char),
            "single": single,
        }
    )
    given = pl.when(pl.col("single")).then(pl.lit("")).otherwise(pl.col("second"))
    return frame.select(pl.concat_str(["surname", "first", given]).alias("head_name")).to_series()


def _id_numbers(
    region: np.ndarray, birth: np.ndarray, male: np.ndarray, rng: np.random.Generator
) -> pl.Series:
    """18-character 居民身份证号码 (GB 11643), unique, check digit valid."""
    dt = _as_dt(birth)
    year = dt.astype("datetime64[Y]").astype(np.int64) + 1970
    month = dt.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (dt - dt.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    stem = region * 10**11 + (year * 10_000 + month * 100 + day) * 1000
    serial = rng.integers(0, 500, region.size) * 2 + male  # odd for men, even for women
    for _ in range(50):
        body = stem + serial
        _, first_seen = np.unique(body, return_index=True)
        clash = np.ones(body.size, bool)
        clash[first_seen] = False
        if not clash.any():
            break
        serial[clash] = rng.integers(0, 500, int(clash.sum())) * 2 + male[clash]
    body = stem + serial
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
    powers = 10 ** np.arange(16, -1, -1, dtype=np.int64)
    total = ((body[:, None] // powers) % 10 * weights).sum(axis=1)
    check = pl.Series(list("10X98765432")).gather(total % 11)
    return pl.Series(body).cast(pl.String) + check


def _collections(
    villages: _Villages,
    people: _People,
    birth: np.ndarray,
    span: _Span,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Information collections: one row per (household, collected_on), sorted so."""
    n = people.n
    years = max((span.end - span.start) // 365 + 1, 1)
    # Part of the households are re-collected every year or two, around the anniversary.
    updater = rng.random(n) < 0.55
    hits = updater[:, None] & (rng.random((n, years)) < 0.45)
    offset = np.round(np.arange(1, years + 1) * 365.25).astype(np.int64)
    when = people.first[:, None] + offset[None, :] + rng.integers(-25, 26, (n, years))
    hits &= when <= span.end
    hh_extra, year_extra = np.nonzero(hits)
    day_extra = _workday(when[hh_extra, year_extra], span.end)
    hh = np.r_[np.arange(n), hh_extra]
    day = np.r_[people.first, day_extra]
    order = np.lexsort((day, hh))
    hh, day = hh[order], day[order]
    size = hh.size
    starts = _group_starts(hh, n)
    rank = np.arange(size) - starts[hh]
    by_rank = [np.flatnonzero(rank == r) for r in range(1, int(rank.max()) + 1)]

    def carried(fresh: np.ndarray, change: float) -> np.ndarray:
        """Re-collections keep the previous answer unless it changed (prob. `change`)."""
        out = fresh.copy()
        for rows in by_rank:
            keep = rows[rng.random(rows.size) >= change]
            out[keep] = out[keep - 1]
        return out

    def acquired(fresh: np.ndarray, gain: float) -> np.ndarray:
        """Certificates and the like are only ever gained."""
        out = fresh.copy()
        for rows in by_rank:
            out[rows] = out[rows - 1] | (rng.random(rows.size) < gain)
        return out

    def flags(p_yes: np.ndarray | float, p_empty: float = 0.0) -> np.ndarray:
        u = rng.random(size)
        answer = np.where(u < p_empty, -1, u < p_empty + p_yes * (1 - p_empty))
        return answer.astype(np.int8)  # 1 是, 0 否, -1 empty; small, as there are many

    poor = people.poor[hh]
    n_villages = villages.n

    # Moves between villages are rare: the home village changes from one re-collection on.
    village = people.home[hh].copy()
    movers = np.flatnonzero((rank > 0) & (rng.random(size) < 0.0012))
    movers = movers[np.r_[True, np.diff(hh[movers]) != 0]] if movers.size else movers
    same_township = rng.random(movers.size) < 0.7
    for mover, near in zip(movers, same_township, strict=True):
        home = people.home[hh[mover]]
        pool = np.flatnonzero(villages.township == villages.township[home]) if near else None
        target = (
            int(rng.choice(pool))
            if pool is not None and pool.size > 1
            else int(rng.integers(0, n_villages))
        )
        if target == home:
            target = (home + 1) % n_villages
        village[mover : _household_end(hh, mover)] = target

    tier_hh = people.tier
    tier = tier_hh[hh]

    def by_tier(ordinary: float, well_off: float, prosperous: float) -> np.ndarray:
        return np.array([ordinary, well_off, prosperous])[tier]

    def tiered(thresholds: tuple[tuple[float, ...], ...]) -> np.ndarray:
        """Ordinal answer 0, 1, 2… from cumulative thresholds per tier."""
        cuts = np.array(thresholds)[tier]
        return (rng.random(size)[:, None] >= cuts).sum(axis=1)

    age = (day - birth[hh]) / 365.25
    edu_old = {0: 0.50, 1: 0.38, 2: 0.08, 3: 0.03, 4: 0.01}
    edu_young = {0: 0.14, 1: 0.47, 2: 0.17, 3: 0.10, 4: 0.075, 5: 0.04, 6: 0.005}
    edu_hh = np.where(
        birth < _day(date(1966, 1, 1)),
        _choice(rng, n, edu_old),
        _choice(rng, n, edu_young),
    )
    edu_hh = np.where(people.poor & (rng.random(n) < 0.4), np.minimum(edu_hh, 1), edu_hh)
    educated = rng.random(n) < np.array([0.0, 0.25, 0.45])[tier_hh]
    edu_hh = np.where(educated, _choice(rng, n, {4: 0.6, 5: 0.37, 6: 0.03}), edu_hh)

    # 一村一品: each village leans to one main industry.
    main = _choice(rng, n_villages, {1: 3, 2: 2, 3: 1, 4: 2, 5: 1.5, 6: 2, 7: 1, 8: 0.7})
    none_share = np.clip(rng.normal(0.12, 0.04, n_villages), 0.03, 0.25)
    project = _choice(rng, size, {1: 16, 2: 11, 3: 4, 4: 8, 5: 7, 6: 10, 7: 5, 8: 3, 9: 20, 10: 4})
    project = np.where(rng.random(size) < 0.35, main[village], project)
    none_factor = np.where(poor, 1.25, 1.0) * by_tier(1.0, 0.4, 0.1)
    project = np.where(rng.random(size) < none_share[village] * none_factor, 0, project)
    proof = np.where(project == 9, flags(0.9, 0.04), -1)
    change = rng.random(size) < 0.15
    project, proof = _carry_pair(project, proof, change, by_rank)

    median_house = np.where(poor, 90_000, by_tier(140_000, 260_000, 450_000))
    house = np.round(rng.lognormal(np.log(median_house), 0.45, size) / 1000).astype(np.int64)
    house = np.where(rng.random(size) < 0.05, 200_000, np.clip(house * 1000, 20_000, 900_000))
    house = house * 100
    rebuilt = rng.random(size) < 0.06
    growth = rng.uniform(1.15, 1.9, size)
    for rows in by_rank:
        prev = house[rows - 1]
        house[rows] = np.where(
            rebuilt[rows], np.round(prev * growth[rows] / 100_000) * 100_000, prev
        )

    registered = flags(np.where(poor, 0.02, by_tier(0.04, 0.2, 0.65)))
    scale = np.round(rng.lognormal(np.log(80_000), 0.6, size) / 1000).astype(np.int64) * 100_000
    scale = np.clip(scale, 1_000_000, 200_000_000)
    boundary = rng.random(size)
    scale = np.where(boundary < 0.15, 5_000_000, np.where(boundary < 0.27, 10_000_000, scale))
    scale = np.where(registered == 1, scale, -1)
    registered, scale = _carry_pair(registered, scale, rng.random(size) < 0.1, by_rank)

    equipment_tier = tiered(((0.76, 0.88, 0.95), (0.5, 0.65, 0.85), (0.15, 0.3, 0.55)))
    exact = rng.random(size) < 0.25  # round appraisals land on the A6 thresholds
    equipment = np.choose(
        equipment_tier,
        [
            np.zeros(size, np.int64),
            rng.integers(50, 500, size) * 10_000,
            np.where(exact, 5_000_000, rng.integers(500, 1000, size) * 10_000),
            np.where(exact, 10_000_000, rng.integers(1000, 3000, size) * 10_000),
        ],
    )
    guarantee_tier = rng.random(size)
    guarantee = np.select(
        [guarantee_tier < 0.90, guarantee_tier < 0.915, guarantee_tier < 0.925],
        [np.zeros(size, np.int64), np.full(size, 20_000_000), np.full(size, 30_000_000)],
        rng.integers(10, 400, size) * 100_000,
    )
    guarantee_overdue = np.where(guarantee > 0, flags(0.05), 0)
    guarantee, guarantee_overdue = _carry_pair(
        guarantee, guarantee_overdue, rng.random(size) < 0.25, by_rank
    )
    mortgage_tier = rng.random(size)
    mortgage = np.select(
        [mortgage_tier < 0.95, mortgage_tier < 0.963],
        [np.zeros(size, np.int64), np.full(size, 5_000_000)],
        rng.integers(10, 150, size) * 100_000,
    )

    # Court and vice records are episodes in time; a collection reports what holds on its day.
    enforced = rng.random(n) < 0.045
    enforced_from = rng.integers(_day(date(2012, 1, 1)), span.end + 1, n)
    enforced_to = enforced_from + 60 + rng.exponential(300, n).astype(np.int64)
    listed = rng.random(n) < 0.01
    listed_from = rng.integers(_day(date(2014, 1, 1)), span.end + 1, n)
    listed_to = listed_from + 200 + rng.exponential(500, n).astype(np.int64)
    vice = rng.random(n) < 0.006
    vice_from = rng.integers(_day(date(2005, 1, 1)), span.end + 1, n)

    # Poverty exits came mostly in 2019-2020; the exit shows on the next collection.
    exit_day = _choice(rng, n, {2017: 0.10, 2018: 0.20, 2019: 0.35, 2020: 0.33, 2021: 0.02})
    exit_day = np.array([_day(date(year, 1, 1)) for year in range(2017, 2022)])[exit_day - 2017]
    exit_day = exit_day + rng.integers(0, 365, n)

    under = enforced[hh] & (enforced_from[hh] <= day) & (day < enforced_to[hh])
    ended = enforced[hh] & (enforced_to[hh] <= day)
    rows: dict[str, np.ndarray] = {
        "hh": hh,
        "day": day,
        "rank": rank,
        "village": village,
        "registered_poor": poor.astype(np.int8),
        "poverty_exited": (poor & (exit_day[hh] <= day)).astype(np.int8),
        "party_member": acquired(flags(np.where(poor, 0.03, by_tier(0.06, 0.2, 0.55))), 0.004),
        "education": edu_hh[hh],
        "healthy": carried(
            flags(np.clip(0.97 - 0.007 * (age - 35), 0.4, 0.97) - 0.2 * poor, 0.005), 0.12
        ),
        "military_member": carried(flags(by_tier(0.03, 0.05, 0.08), 0.02), 0.2),
        "homestead_house_value": house,
        "income_project": project,
        "work_proof": proof,
        "entity_registered": registered,
        "entity_scale": scale,
        "forest_cert": acquired(flags(by_tier(0.28, 0.5, 0.8)), 0.05),
        "land_cert": acquired(flags(by_tier(0.85, 0.9, 0.95)), 0.05),
        "homestead_cert": acquired(flags(by_tier(0.66, 0.85, 0.95)), 0.08),
        "equipment_value": carried(equipment, 0.15),
        "honor": carried(tiered(((0.87, 0.96, 0.99), (0.6, 0.82, 0.95), (0.15, 0.4, 0.75))), 0.2),
        "family_harmonious": carried(flags(0.965, 0.01), 0.08),
        "neighbor_harmonious": carried(flags(0.955, 0.01), 0.08),
        "petitions_12m": _choice(rng, size, {0: 0.993, 1: 0.005, 2: 0.0015, 3: 0.0005}),
        "urban_property_75": carried(tiered(((0.975, 0.997), (0.75, 0.93), (0.3, 0.65))), 0.05),
        "urban_property_50": carried(tiered(((0.96, 0.997), (0.85, 0.97), (0.6, 0.85))), 0.05),
        "commercial_insurance": carried(
            flags(np.where(poor, 0.12, by_tier(0.2, 0.55, 0.85)), 0.015), 0.25
        ),
        "credit_overdue_count": people.base_overdue[hh].copy(),
        "credit_npl_count": people.base_npl[hh].copy(),
        "guarantee_amount": guarantee,
        "guarantee_overdue": guarantee_overdue,
        "mortgage_amount": carried(mortgage, 0.2),
        "enforcement_ended_on": np.where(ended, enforced_to[hh], NO_DATE),
        "under_enforcement": under.astype(np.int8),
        "dishonest_debtor": (listed[hh] & (listed_from[hh] <= day) & (day < listed_to[hh])).astype(
            np.int8
        ),
        "vice_record": (vice[hh] & (vice_from[hh] <= day)).astype(np.int8),
    }
    return rows


def _household_end(hh: np.ndarray, row: int) -> int:
    """One past the last row of the household of `row` (rows are sorted by household)."""
    return int(np.searchsorted(hh, hh[row], side="right"))


def _carry_pair(
    first: np.ndarray, second: np.ndarray, change: np.ndarray, by_rank: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Carry two linked answers (project and its proof, entity and its scale) together."""
    first, second = first.copy(), second.copy()
    for rows in by_rank:
        keep = rows[~change[rows]]
        first[keep] = first[keep - 1]
        second[keep] = second[keep - 1]
    return first, second


def _scores(rows: dict[str, np.ndarray], index: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Score of collection rows `index` on `day` (R-S2..R-S6); -1 when a veto holds.

    Loan-book events are left out: the generator only needs it to decide who gets a
    loan, and households with a bad loan do not come back for another one.
    """

    def col(name: str) -> np.ndarray:
        return rows[name][index]

    def yes(name: str) -> np.ndarray:
        return (col(name) == 1).astype(np.int64)

    def no(name: str) -> np.ndarray:
        return (col(name) == 0).astype(np.int64)

    project = col("income_project")
    has_project = (project != 0) & ((project != 9) | (col("work_proof") == 1))
    scale = col("entity_scale")
    equipment = col("equipment_value")
    guarantee = col("guarantee_amount")
    ended = col("enforcement_ended_on")
    recent_enforcement = (ended != NO_DATE) & (ended >= _add_months(day, -36))
    score = (
        80
        + yes("party_member")
        + (col("education") >= 4)
        + yes("healthy")
        + yes("military_member")
        + 2 * (col("homestead_house_value") >= 20_000_000)
        + np.where(has_project, 3, -8)
        + 2 * ((col("entity_registered") == 1) & (scale >= 5_000_000) & (scale < 10_000_000))
        + yes("forest_cert")
        + yes("land_cert")
        + yes("homestead_cert")
        + np.where(equipment >= 10_000_000, 2, np.where(equipment >= 5_000_000, 1, 0))
        + col("honor")
        + yes("family_harmonious")
        + yes("neighbor_harmonious")
        - no("family_harmonious")
        - no("neighbor_harmonious")
        - col("petitions_12m")
        + 2 * col("urban_property_75")
        + col("urban_property_50")
        + 2 * yes("commercial_insurance")
        - 5 * col("credit_overdue_count")
        - 10 * col("credit_npl_count")
        - np.select(
            [guarantee >= 30_000_000, guarantee >= 20_000_000, guarantee > 0], [10, 8, 5], 0
        )
        - 5 * (col("mortgage_amount") >= 5_000_000)
        - 15 * (recent_enforcement | (col("dishonest_debtor") == 1))
        + 3 * col("registered_poor")
    )
    veto = (
        (col("vice_record") == 1)
        | (col("under_enforcement") == 1)
        | (col("dishonest_debtor") == 1)
        | (col("guarantee_overdue") == 1)
    )
    return np.where(veto, -1, score)


def _latest_row(rows: dict[str, np.ndarray], hh: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Index of the household's latest collection on or before `day` (-1 if none)."""
    keys = rows["hh"] * KEY + rows["day"]
    found = np.searchsorted(keys, hh * KEY + day, side="right") - 1
    valid = (found >= 0) & (rows["hh"][np.maximum(found, 0)] == hh)
    return np.where(valid, found, -1)


# --------------------------------------------------------------------------- entities


@dataclass
class _Entities:
    frame: pl.DataFrame
    village: np.ndarray
    kind: np.ndarray  # index into ENTITY_KINDS

    @property
    def n(self) -> int:
        return self.village.size


def _make_entities(villages: _Villages, rng: np.random.Generator) -> _Entities:
    """A few 带贫经营主体 per township, each in a different village."""
    per_township = rng.integers(2, 6, villages.n_townships)
    order = np.lexsort((rng.random(villages.n), villages.township))
    township_sorted = villages.township[order]
    starts = _group_starts(township_sorted, villages.n_townships)
    rank = np.arange(villages.n) - starts[township_sorted]
    village = np.sort(order[rank < per_township[township_sorted]])
    n = village.size
    kind = _choice(rng, n, {0: 0.2, 1: 0.5, 2: 0.3})
    frame = villages.frame
    codes = frame["village_code"].to_list()
    village_names = frame["village_name"].to_list()
    township_names = frame["township_name"].to_list()
    county_names = [villages.county_names[t] for t in villages.township]

    industry = rng.integers(0, len(COOP_INDUSTRIES), n)
    brand = rng.permutation(len(COMPANY_BRANDS) // 2 * len(COMPANY_INDUSTRIES))
    owner = _names(rng.random(n) < 0.9, rng).to_list()
    names, credit_codes, ids = [], [], []
    serial: dict[str, int] = {}
    for position, (v, k) in enumerate(zip(village, kind, strict=True)):
        if k == 0:
            combo = brand[position % brand.size]
            brand_name = COMPANY_BRANDS[2 * (combo // len(COMPANY_INDUSTRIES)) :][:2]
            names.append(
                f"三门峡{brand_name}{COMPANY_INDUSTRIES[combo % len(COMPANY_INDUSTRIES)]}有限公司"
            )
        elif k == 1:
            names.append(
                f"{county_names[v]}{township_names[v]}{village_names[v]}"
                f"{COOP_INDUSTRIES[industry[position]]}专业合作社"
            )
        else:
            names.append(f"{county_names[v]}{township_names[v]}{owner[position]}家庭农场")
        township_code = codes[v][:9]
        serial[township_code] = serial.get(township_code, 0) + 1
        ids.append(f"ZT{township_code}{serial[township_code]:02d}")
        credit_codes.append(_credit_code(("91", "93", "92")[k], codes[v][:6], rng))
    linked = np.select(
        [kind == 0, kind == 1],
        [rng.integers(30, 151, n), rng.integers(10, 61, n)],
        rng.integers(3, 21, n),
    )
    entity_frame = pl.DataFrame(
        {
            "entity_id": ids,
            "name": names,
            "kind": pl.Series(list(ENTITY_KINDS)).gather(kind),
            "village_code": [codes[v] for v in village],
            "credit_code": credit_codes,
            "poor_households_linked": linked,
        }
    )
    return _Entities(entity_frame, village, kind)


CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _credit_code(prefix: str, region: str, rng: np.random.Generator) -> str:
    """统一社会信用代码 (GB 32100) with a valid GB 11714 organisation code inside."""
    body = "".join(str(digit) for digit in rng.integers(0, 10, 8))
    total = sum(int(c) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    check = 11 - total % 11
    organisation = body + {10: "X", 11: "0"}.get(check, str(check))
    stem = prefix + region + organisation
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(CREDIT_CODE_CHARS.index(c) * w for c, w in zip(stem, weights, strict=True))
    return stem + CREDIT_CODE_CHARS[(31 - total % 31) % 31]


# --------------------------------------------------------------------------- loans

PRODUCTS = (PRODUCT_POOR, PRODUCT_HOUSEHOLD, PRODUCT_ENTITY)
LOCAL_SHOCK_PROBABILITY = 0.012  # default probability of an exposed loan in a local bad spell
LOAN_COLUMNS = (
    "borrower_type",
    "borrower",
    "disbursed",
    "maturity",
    "term",
    "amount",
    "rate",
    "benchmark",
    "method",
    "product",
    "bank",
)


def _make_book(
    villages: _Villages,
    people: _People,
    rows: dict[str, np.ndarray],
    entities: _Entities,
    span: _Span,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Loans with their repayment plans and payments, as one dict of arrays."""
    risk = _village_risk(villages, span, rng)
    batches = []

    # Households: most registered-poor households borrow (扶贫小额信贷), fewer others;
    # a clean payer often comes back for the next loan.
    wants = rng.random(people.n) < np.where(people.poor, 0.62, 0.22)
    hh = np.flatnonzero(wants)
    # Part of the demand comes in the first wave after collection, the rest any time later.
    early = rng.random(hh.size) < np.where(people.poor[hh], 0.65, 0.3)
    later = rng.uniform(0, 1, hh.size) * np.maximum(span.end - people.first[hh] - 20, 0)
    wave = rng.exponential(np.where(people.poor[hh], 180, 300))
    day = people.first[hh] + 20 + np.where(early, wave, later).astype(np.int64)
    for _ in range(4):
        day = _workday(day, span.end)
        inside = day <= span.end
        loans, context = _household_loans(
            hh[inside], day[inside], people, rows, villages, risk, rng
        )
        simulated = _simulate(loans, context, span, rng)
        batches.append(simulated)
        again = simulated["clean"] & (rng.random(simulated["clean"].size) < 0.75)
        hh = loans["borrower"][again]
        day = (
            simulated["payoff"][again] + 7 + rng.exponential(100, int(again.sum())).astype(np.int64)
        )

    # Entities borrow larger sums, renewed when repaid, through the 过渡期 after 2020.
    borrower = np.arange(entities.n)
    day = span.start + 60 + rng.integers(0, 600, entities.n)
    for _ in range(6):
        day = _workday(day, span.end)
        inside = day <= span.end
        loans, context = _entity_loans(borrower[inside], day[inside], entities, villages, rng)
        simulated = _simulate(loans, context, span, rng)
        batches.append(simulated)
        again = simulated["clean"] & (rng.random(simulated["clean"].size) < 0.85)
        borrower = loans["borrower"][again]
        day = (
            simulated["payoff"][again] + 15 + rng.exponential(60, int(again.sum())).astype(np.int64)
        )

    book = _concat(batches)
    order = np.lexsort((book["borrower"], book["borrower_type"], book["disbursed"]))
    return _subset(book, order)


def _village_risk(villages: _Villages, span: _Span, rng: np.random.Generator) -> dict:
    """Where bad luck strikes: a risk factor per village and bad spells per township."""
    factor = np.clip(rng.lognormal(-0.1, 0.45, villages.n), 0.25, 3.0)
    flood = rng.random(villages.n_townships) < 0.2
    if not flood.any():
        flood[rng.integers(0, villages.n_townships)] = True
    local = rng.random(villages.n_townships) < 0.25
    earliest, latest = span.start + 300, max(span.end - 540, span.start + 301)
    local_from = np.where(local, rng.integers(earliest, latest, villages.n_townships), NO_DATE)
    local_to = np.where(local, local_from + 270, NO_DATE)
    return {"factor": factor, "flood": flood, "local_from": local_from, "local_to": local_to}


def _household_loans(
    hh: np.ndarray,
    day: np.ndarray,
    people: _People,
    rows: dict[str, np.ndarray],
    villages: _Villages,
    risk: dict,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    # Credit goes to households rated A or better on the day; a few exceptions slip through
    # (the warehouse flags them, R-X1).
    row = _latest_row(rows, hh, day)
    score = _scores(rows, np.maximum(row, 0), day)
    keep = (row >= 0) & ((score >= 80) | (rng.random(hh.size) < 0.03))
    hh, day, row = hh[keep], day[keep], row[keep]
    n = hh.size
    poor = people.poor[hh]
    amount = (
        np.where(
            poor,
            _choice(rng, n, {50: 50, 30: 15, 20: 12, 40: 10, 10: 6, 35: 3, 25: 3, 15: 1}),
            _choice(rng, n, {50: 35, 30: 20, 20: 18, 40: 10, 10: 10, 35: 3, 25: 3, 45: 1}),
        )
        * 100_000
    )  # 千元 to fen
    odd = rng.random(n) < 0.015
    amount = np.where(odd, rng.integers(100, 501, n) * 10_000, amount)
    term = np.where(
        poor,
        _choice(rng, n, {36: 0.80, 24: 0.08, 12: 0.12}),
        _choice(rng, n, {36: 0.60, 24: 0.15, 12: 0.25}),
    )
    method = _methods(term, rng)
    benchmark = _benchmark(day)
    markup = np.where(
        poor,
        np.where(rng.random(n) < 0.004, 110, 100),
        _choice(rng, n, {100: 0.6, 110: 0.3, 120: 0.1}),
    )
    village = rows["village"][row]
    township = villages.township[village]
    bank = np.where(rng.random(n) < 0.92, township, len(villages.banks))
    loans = {
        "borrower_type": np.zeros(n, np.int64),
        "borrower": hh,
        "disbursed": day,
        "maturity": _add_months(day, term),
        "term": term,
        "amount": amount,
        "rate": benchmark * markup // 100,
        "benchmark": benchmark,
        "method": method,
        "product": np.where(poor, 0, 1),
        "bank": bank,
    }
    factor = risk["factor"][village] * np.where(poor, 1.2, 1.0)
    context = {
        "p_default": 0.003 * factor,
        "p_late": np.minimum(0.07 * np.sqrt(factor), 0.3),
        "p_prepay": np.full(n, 0.06),
        "risk": factor,
        "project": rows["income_project"][row],
        "flood": risk["flood"][township],
        "local_from": risk["local_from"][township],
        "local_to": risk["local_to"][township],
    }
    return loans, context


def _entity_loans(
    borrower: np.ndarray,
    day: np.ndarray,
    entities: _Entities,
    villages: _Villages,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    n = borrower.size
    kind = entities.kind[borrower]
    amount = (
        np.select(
            [kind == 0, kind == 1],
            [
                _choice(rng, n, {100: 3, 150: 2, 200: 2, 300: 1}),
                _choice(rng, n, {20: 2, 30: 3, 50: 3, 80: 1, 100: 1}),
            ],
            _choice(rng, n, {10: 2, 15: 2, 20: 3, 30: 2, 50: 1}),
        )
        * 1_000_000
    )  # 万元 to fen
    term = _choice(rng, n, {36: 0.5, 24: 0.2, 12: 0.3})
    method = np.where(
        term == 12,
        _choice(rng, n, {BULLET: 0.5, QUARTERLY: 0.5}),
        _choice(rng, n, {QUARTERLY: 0.85, MONTHLY: 0.10, ANNUITY: 0.05}),
    )
    benchmark = _benchmark(day)
    # R-M2 allows benchmark x 1.10; a few contracts go above it (R-X5 flags them).
    markup = _choice(rng, n, {100: 0.35, 105: 0.25, 110: 0.33, 115: 0.04, 120: 0.03})
    township = villages.township[entities.village[borrower]]
    loans = {
        "borrower_type": np.ones(n, np.int64),
        "borrower": borrower,
        "disbursed": day,
        "maturity": _add_months(day, term),
        "term": term,
        "amount": amount,
        "rate": benchmark * markup // 100,
        "benchmark": benchmark,
        "method": method,
        "product": np.full(n, 2),
        "bank": np.where(rng.random(n) < 0.9, township, len(villages.banks)),
    }
    context = {
        "p_default": np.full(n, 0.03),
        "p_late": np.full(n, 0.08),
        "p_prepay": np.full(n, 0.05),
        "risk": np.ones(n),
        "project": np.full(n, -1),
        "flood": np.zeros(n, bool),
        "local_from": np.full(n, NO_DATE),
        "local_to": np.full(n, NO_DATE),
    }
    return loans, context


def _methods(term: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = term.size
    return np.where(
        term == 12,
        _choice(rng, n, {BULLET: 0.55, QUARTERLY: 0.35, MONTHLY: 0.10}),
        _choice(rng, n, {QUARTERLY: 0.74, ANNUITY: 0.16, MONTHLY: 0.10}),
    )


def _plan(loans: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The repayment plan (还款计划) of every loan, sorted by loan and instalment."""
    disbursed, maturity = loans["disbursed"], loans["maturity"]
    amount, rate, method, term = loans["amount"], loans["rate"], loans["method"], loans["term"]
    q_from = np.searchsorted(QUARTER_20THS, disbursed, side="right")
    q_to = np.searchsorted(QUARTER_20THS, maturity, side="left")
    m_from = np.searchsorted(MONTH_20THS, disbursed, side="right")
    m_to = np.searchsorted(MONTH_20THS, maturity, side="left")
    count = np.select(
        [method == QUARTERLY, method == MONTHLY, method == ANNUITY],
        [q_to - q_from + 1, m_to - m_from + 1, term],
        1,
    )
    loan = np.repeat(np.arange(disbursed.size), count)
    first = np.cumsum(count) - count
    k = np.arange(loan.size) - first[loan]
    last = k == count[loan] - 1
    kind = method[loan]
    due = np.zeros(loan.size, np.int64)
    for code, dates, start in ((QUARTERLY, QUARTER_20THS, q_from), (MONTHLY, MONTH_20THS, m_from)):
        pick = kind == code
        due[pick] = dates[np.minimum(start[loan[pick]] + k[pick], dates.size - 1)]
    pick = kind == ANNUITY
    due[pick] = _add_months(disbursed[loan[pick]], k[pick] + 1)
    due[last] = maturity[loan[last]]

    previous = np.empty_like(due)
    previous[1:] = due[:-1]
    previous[first] = disbursed
    principal_amount = amount[loan].astype(float)
    annual = rate[loan] / 1e6
    # Interest-bearing periods accrue actual/360 on the full principal.
    interest = np.floor(principal_amount * annual * (due - previous) / 360 + 0.5).astype(np.int64)
    principal = np.where(last, amount[loan], 0)

    if pick.any():
        # 等额本息: equal monthly instalments; interest on the balance at the monthly rate.
        monthly = annual[pick] / 12
        periods = count[loan[pick]]
        growth = (1 + monthly) ** periods
        payment = np.floor(principal_amount[pick] * monthly * growth / (growth - 1) + 0.5)
        before = (1 + monthly) ** k[pick]
        balance = principal_amount[pick] * before - payment * (before - 1) / monthly
        annuity_interest = np.floor(balance * monthly + 0.5).astype(np.int64)
        annuity_principal = payment.astype(np.int64) - annuity_interest
        interest[pick] = annuity_interest
        rows = np.flatnonzero(pick)
        principal[rows] = annuity_principal
        paid_before_last = np.bincount(
            loan[rows[~last[rows]]],
            weights=annuity_principal[~last[rows]],
            minlength=disbursed.size,
        ).astype(np.int64)
        closing = rows[last[rows]]
        principal[closing] = amount[loan[closing]] - paid_before_last[loan[closing]]
    return {
        "s_loan": loan,
        "s_no": k + 1,
        "s_due": due,
        "s_principal": principal,
        "s_interest": interest,
    }


def _simulate(
    loans: dict[str, np.ndarray],
    context: dict[str, np.ndarray],
    span: _Span,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Plan and repay a batch of loans: on time, late, defaulted or prepaid."""
    plan = _plan(loans)
    n_loans = loans["disbursed"].size
    s_loan, due = plan["s_loan"], plan["s_due"]
    count = np.bincount(s_loan, minlength=n_loans)
    first = np.cumsum(count) - count
    k = plan["s_no"] - 1

    # The instalment at which a defaulting loan stops paying: a background chance
    # (often at maturity, when the principal falls due) plus the bad spells.
    never = 1 << 30
    stop = np.full(n_loans, never)
    at_maturity = rng.random(n_loans) < 0.45
    background = np.where(at_maturity, count - 1, (rng.random(n_loans) * count).astype(np.int64))
    stop = np.where(rng.random(n_loans) < context["p_default"], background, stop)
    keys = s_loan * KEY + due
    loan_index = np.arange(n_loans)
    windows = []
    for _, first_day, last_day, scope, probability in SHOCKS:
        if scope == "all":
            exposed = np.ones(n_loans, bool)
        elif scope == "flood":
            exposed = context["flood"]
        else:
            exposed = context["project"] == INCOME_PROJECTS.index(scope)
        windows.append(
            (
                np.full(n_loans, _day(first_day)),
                np.full(n_loans, _day(last_day)),
                exposed,
                probability,
            )
        )
    windows.append(
        (
            context["local_from"],
            context["local_to"],
            context["local_from"] != NO_DATE,
            LOCAL_SHOCK_PROBABILITY,
        )
    )
    for window_from, window_to, exposed, probability in windows:
        at = np.minimum(np.searchsorted(keys, loan_index * KEY + window_from), keys.size - 1)
        # A bad spell hits loans already out when it starts, not new ones.
        hit = (
            exposed
            & (loans["disbursed"] < window_from)
            & (s_loan[at] == loan_index)
            & (due[at] >= window_from)
            & (due[at] <= window_to)
            & (rng.random(n_loans) < probability * context["risk"])
        )
        stop = np.where(hit, np.minimum(stop, at - first), stop)
    behaviour_draw = rng.random(n_loans)
    kind = np.select(
        [
            stop < count,
            behaviour_draw < context["p_late"],
            behaviour_draw < context["p_late"] + context["p_prepay"],
        ],
        [DEFAULT, LATE, PREPAY],
        ONTIME,
    )

    # One payment per instalment: on the due date or a few days early, some late.
    size = due.size
    loan_kind = kind[s_loan]
    total_due = plan["s_principal"] + plan["s_interest"]
    pay = due - np.where(rng.random(size) < 0.3, rng.integers(1, 6, size), 0)
    lateness_draw = rng.random(size)
    lateness = np.select(
        [lateness_draw < 0.70, lateness_draw < 0.92, lateness_draw < 0.95],
        [rng.integers(1, 31, size), rng.integers(31, 61, size), rng.integers(61, 91, size)],
        rng.integers(91, 201, size),
    )
    late = (loan_kind == LATE) & (rng.random(size) < 0.35)
    pay = np.where(late, due + lateness, pay)
    pay = np.maximum(pay, loans["disbursed"][s_loan])
    # Payments are applied first in, first out: a late instalment holds up the next.
    pay = np.maximum.accumulate(s_loan * KEY + pay) - s_loan * KEY
    paid = ~((loan_kind == DEFAULT) & (k >= stop[s_loan]))
    # 罚息: late instalments pay penalty interest at 1.5x the contract rate.
    penalty = np.where(
        pay > due,
        np.floor(total_due * loans["rate"][s_loan] / 1e6 * 1.5 * (pay - due) / 360 + 0.5),
        0,
    ).astype(np.int64)

    # Prepayment settles everything still due in one payment (the plan is then covered).
    length = loans["maturity"] - loans["disbursed"]
    prepay_day = loans["disbursed"] + (rng.uniform(0.15, 0.9, n_loans) * length).astype(np.int64)
    prepay_day = np.maximum(_workday(prepay_day, span.end), loans["disbursed"])
    lumped = (loan_kind == PREPAY) & (due > prepay_day[s_loan])
    single = paid & ~lumped
    lump_principal = np.bincount(s_loan[lumped], plan["s_principal"][lumped], n_loans).astype(
        np.int64
    )
    lump_interest = np.bincount(s_loan[lumped], plan["s_interest"][lumped], n_loans).astype(
        np.int64
    )
    has_lump = np.bincount(s_loan[lumped], minlength=n_loans) > 0

    # Defaults: written off a year or more after the first missed instalment; a few
    # recover part of the principal afterwards.
    first_miss = due[np.minimum(first + np.minimum(stop, count - 1), size - 1)]
    defaulted = kind == DEFAULT
    written_off = _workday(first_miss + 365 + rng.integers(0, 300, n_loans), span.end)
    written_off = np.where(
        defaulted & (rng.random(n_loans) >= 0.05) & (written_off <= span.end), written_off, NO_DATE
    )
    repaid_principal = np.bincount(s_loan[single], plan["s_principal"][single], n_loans)
    outstanding = loans["amount"] - repaid_principal.astype(np.int64)
    recovers = defaulted & (rng.random(n_loans) < 0.3)
    recovery_day = np.where(
        written_off != NO_DATE,
        written_off + rng.integers(30, 600, n_loans),
        first_miss + rng.integers(120, 600, n_loans),
    )
    recovery = np.floor(outstanding * rng.uniform(0.1, 0.5, n_loans) / 10_000).astype(np.int64)
    recovery = np.minimum(np.maximum(recovery, 1) * 10_000, outstanding)

    p_loan = np.r_[s_loan[single], loan_index[has_lump], loan_index[recovers]]
    p_day = np.r_[pay[single], prepay_day[has_lump], _workday(recovery_day[recovers], 1 << 30)]
    p_principal = np.r_[plan["s_principal"][single], lump_principal[has_lump], recovery[recovers]]
    p_interest = np.r_[
        plan["s_interest"][single] + penalty[single],
        lump_interest[has_lump],
        np.zeros(int(recovers.sum()), np.int64),
    ]
    last_day = np.full(n_loans, -1)
    np.maximum.at(last_day, p_loan, p_day)
    payoff = np.where(~defaulted & (last_day <= span.end), last_day, NO_DATE)
    inside = p_day <= span.end
    order = np.lexsort((p_day[inside], p_loan[inside]))
    simulated = dict(loans)
    simulated.update(plan)
    simulated.update(
        {
            "written_off": written_off,
            "first_miss": np.where(defaulted, first_miss, NO_DATE),
            "payoff": payoff,
            "clean": ((kind == ONTIME) | (kind == PREPAY)) & (payoff != NO_DATE),
            "p_loan": p_loan[inside][order],
            "p_day": p_day[inside][order],
            "p_principal": p_principal[inside][order],
            "p_interest": p_interest[inside][order],
        }
    )
    return simulated


LOAN_KEYS = (*LOAN_COLUMNS, "written_off", "first_miss", "payoff", "clean")
PLAN_KEYS = ("s_loan", "s_no", "s_due", "s_principal", "s_interest")
PAYMENT_KEYS = ("p_loan", "p_day", "p_principal", "p_interest")


def _concat(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    offsets = np.cumsum([0] + [batch["disbursed"].size for batch in batches])
    book = {}
    for key in LOAN_KEYS + PLAN_KEYS + PAYMENT_KEYS:
        parts = []
        for offset, batch in zip(offsets[:-1], batches, strict=True):
            parts.append(batch[key] + offset if key in ("s_loan", "p_loan") else batch[key])
        book[key] = np.concatenate(parts)
    return book


def _subset(book: dict[str, np.ndarray], loans: np.ndarray) -> dict[str, np.ndarray]:
    """Keep (and reorder) the loans at `loans`, with their plans and payments."""
    out = {key: book[key][loans] for key in LOAN_KEYS}
    n_loans = book["disbursed"].size
    for keys, loan_key in ((PLAN_KEYS, "s_loan"), (PAYMENT_KEYS, "p_loan")):
        # Rows are grouped by loan, so each kept loan's rows move as one block.
        count = np.bincount(book[loan_key], minlength=n_loans)
        old_start = np.cumsum(count) - count
        kept_count = count[loans]
        new_start = np.cumsum(kept_count) - kept_count
        rows = np.repeat(old_start[loans] - new_start, kept_count) + np.arange(kept_count.sum())
        for key in keys:
            out[key] = book[key][rows]
        out[loan_key] = np.repeat(np.arange(loans.size), kept_count)
    return out


# --------------------------------------------------------------------------- breaker


def _segment_cumsum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Running total of `values` restarting at each new value of the sorted `groups`."""
    if values.size == 0:
        return values.copy()
    total = np.cumsum(values)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    lengths = np.diff(np.r_[starts, values.size])
    return total - np.repeat(total[starts] - values[starts], lengths)


def _first_per_group(groups: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group, row) of the first row of each group where `mask` holds (rows sorted by group)."""
    rows = np.flatnonzero(mask)
    first = rows[np.r_[True, groups[rows][1:] != groups[rows][:-1]]] if rows.size else rows
    return groups[first], first


def _cover_days(book: dict[str, np.ndarray]) -> np.ndarray:
    """The day each instalment becomes covered (R-L2), NO_DATE if never.

    Payments apply first in, first out whatever their split, so instalment k is covered
    from the first day the loan's running total paid reaches its cumulative amount due
    minus the 1.00 元 tolerance.
    """
    s_loan, p_loan = book["s_loan"], book["p_loan"]
    cum_due = _segment_cumsum(book["s_principal"] + book["s_interest"], s_loan)
    target = cum_due - 100
    if p_loan.size == 0:
        return np.where(target <= 0, 0, NO_DATE)
    cum_paid = _segment_cumsum(book["p_principal"] + book["p_interest"], p_loan)
    keys = p_loan * KEY + cum_paid
    at = np.minimum(np.searchsorted(keys, s_loan * KEY + np.maximum(target, 0)), keys.size - 1)
    day = np.where((p_loan[at] == s_loan) & (cum_paid[at] >= target), book["p_day"][at], NO_DATE)
    return np.where(target <= 0, 0, day)


def _village_npl(
    book: dict[str, np.ndarray], villages: _Villages, people: _People, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Outstanding and NPL balance (fen) of household loans per village x month-end (R-B1).

    Works on (loan, month-end) cells while the loan is on the book (R-L1): principal
    repaid and "some instalment uncovered more than 90 days after its due date" (R-L3)
    are both running totals over those cells, so no per-cell search is needed.
    """
    n_loans = book["disbursed"].size
    p_loan, p_day = book["p_loan"], book["p_day"]
    cum_principal = _segment_cumsum(book["p_principal"], p_loan)
    done_loan, done_row = _first_per_group(p_loan, cum_principal >= book["amount"][p_loan] - 100)
    repaid_day = np.full(n_loans, NO_DATE)
    repaid_day[done_loan] = p_day[done_row]

    household = book["borrower_type"] == 0
    first_end = np.searchsorted(ends, book["disbursed"])
    stop = np.minimum(np.searchsorted(ends, book["written_off"]), np.searchsorted(ends, repaid_day))
    months = np.where(household, np.maximum(stop - first_end, 0), 0)
    cell_start = np.cumsum(months) - months
    cell_loan = np.repeat(np.arange(n_loans), months)
    cells = cell_loan.size

    def cell_of(loan: np.ndarray, month: np.ndarray) -> np.ndarray:
        return cell_start[loan] + month - first_end[loan]

    # Only payments that fall into one of their loan's own cells: entity loans have none, and
    # letting theirs through would credit them to the next loans' cells (or past the last).
    paid_month = np.searchsorted(ends, p_day)
    inside = paid_month - first_end[p_loan] < months[p_loan]
    repaid = np.bincount(
        cell_of(p_loan[inside], paid_month[inside]),
        book["p_principal"][inside],
        cells,
    )
    outstanding = book["amount"][cell_loan] - _segment_cumsum(repaid, cell_loan).astype(np.int64)

    # Instalment k makes its loan NPL from the month-end 91+ days after due_on (a) until
    # the month-end on or after it is covered (b): count open intervals per cell.
    s_loan = book["s_loan"]
    late_from = np.searchsorted(ends, book["s_due"] + 91)
    late_until = np.searchsorted(ends, _cover_days(book))
    opens = (late_from < late_until) & (late_from < stop[s_loan]) & (months[s_loan] > 0)
    closes = opens & (late_until < stop[s_loan])
    delta = np.bincount(cell_of(s_loan[opens], late_from[opens]), minlength=cells)
    delta -= np.bincount(cell_of(s_loan[closes], late_until[closes]), minlength=cells)
    npl = _segment_cumsum(delta, cell_loan) > 0

    on_book = outstanding > 100
    month = np.arange(cells) - cell_start[cell_loan] + first_end[cell_loan]
    cell = people.latest[book["borrower"][cell_loan]] * ends.size + month
    size = villages.n * ends.size
    balance = np.bincount(cell[on_book], outstanding[on_book], size)
    npl_balance = np.bincount(cell[on_book & npl], outstanding[on_book & npl], size)
    shape = (villages.n, ends.size)
    return balance.astype(np.int64).reshape(shape), npl_balance.astype(np.int64).reshape(shape)


def _tripped(
    balance: np.ndarray, npl_balance: np.ndarray, villages: _Villages
) -> tuple[np.ndarray, np.ndarray]:
    """Village (> 3%) and township (>= 30% of villages) breakers per month-end (R-B2)."""
    village = (balance > 0) & (npl_balance * 100 > 3 * balance)
    tripped = np.zeros((villages.n_townships, balance.shape[1]), np.int64)
    np.add.at(tripped, villages.township, village.astype(np.int64))
    total = np.bincount(villages.township, minlength=villages.n_townships)
    return village, tripped * 10 >= 3 * total[:, None]


def _apply_breaker(
    book: dict[str, np.ndarray],
    villages: _Villages,
    people: _People,
    span: _Span,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Play the breaker (R-B3) out on the simulated book.

    The bank stops new credit in a tripped village or township, so loans disbursed there
    in the following month would not exist: they are dropped, but a few slip through
    anyway (the warehouse flags them, R-X3). To lift the breaker the bank writes off the
    bad loans there as soon as the rules allow (a year after the first missed
    instalment); without that a tripped township, lending nothing, never recovers.
    Both change the book and can trip or lift others, hence up to three passes.
    """
    ends = _month_ends(span)
    if ends.size == 0:
        return book
    slips = rng.random(book["disbursed"].size) < 0.04
    for _ in range(3):
        balance, npl_balance = _village_npl(book, villages, people, ends)
        village_tripped, township_tripped = _tripped(balance, npl_balance, villages)
        stopped = village_tripped | township_tripped[villages.township]
        household = book["borrower_type"] == 0
        village = people.latest[np.where(household, book["borrower"], 0)]

        # The first tripped month-end, per village, from each month-end on.
        months = np.arange(ends.size)
        next_stop = np.where(stopped, months, ends.size)
        next_stop = np.minimum.accumulate(next_stop[:, ::-1], axis=1)[:, ::-1]
        bad = household & (book["first_miss"] != NO_DATE)
        npl_month = np.minimum(np.searchsorted(ends, book["first_miss"] + 91), ends.size - 1)
        tripped_at = next_stop[village, npl_month]
        cleanup = np.maximum(
            book["first_miss"] + 365 + rng.integers(0, 31, village.size),
            ends[np.minimum(tripped_at, ends.size - 1)] + rng.integers(15, 76, village.size),
        )
        cleanup = _workday(cleanup, span.end)
        sooner = bad & (tripped_at < ends.size) & (cleanup <= span.end)
        sooner &= cleanup < book["written_off"]
        book["written_off"] = np.where(sooner, cleanup, book["written_off"])

        month = np.searchsorted(ends, book["disbursed"]) - 1  # the month-end before
        known = (month >= 0) & household
        drop = known & stopped[village, np.clip(month, 0, ends.size - 1)] & ~slips
        if not drop.any() and not sooner.any():
            break
        kept = np.flatnonzero(~drop)
        book = _subset(book, kept)
        slips = slips[kept]
    return book


def _record_credit_events(book: dict[str, np.ndarray], rows: dict[str, np.ndarray]) -> None:
    """Re-collections copy the credit report, which by then shows the loan book's events.

    Events up to a collection go into its counts (R-S7 counts the later ones from the
    book), so a household that defaulted does not come back with a clean record.
    """
    s_loan, due = book["s_loan"], book["s_due"]
    household = book["borrower_type"][s_loan] == 0
    cover = _cover_days(book)
    overdue = household & (cover > due)
    npl_loan, npl_row = _first_per_group(s_loan, household & (cover > due + 91))
    for column, event_hh, event_day in (
        ("credit_overdue_count", book["borrower"][s_loan[overdue]], due[overdue]),
        ("credit_npl_count", book["borrower"][npl_loan], due[npl_row] + 91),
    ):
        keys = np.sort(event_hh * KEY + event_day)
        count = np.searchsorted(keys, rows["hh"] * KEY + rows["day"], side="right")
        count -= np.searchsorted(keys, rows["hh"] * KEY, side="left")
        rows[column] = rows[column] + count


# --------------------------------------------------------------------------- CSV


def _household_ids(villages: _Villages, people: _People) -> pl.Series:
    codes = villages.frame["village_code"].gather(people.home)
    return "HH" + codes + pl.Series(people.seq).cast(pl.String).str.zfill(4)


def _households_frame(
    villages: _Villages, people: _People, rows: dict[str, np.ndarray]
) -> pl.DataFrame:
    # File order is household_id then collected_on; the id is the village code and the
    # sequence, so sorting numbers gives the same order as sorting the text, faster.
    code = villages.frame["village_code"].cast(pl.Int64).to_numpy()
    household_rank = np.empty(people.n, np.int64)
    household_rank[np.lexsort((people.seq, code[people.home]))] = np.arange(people.n)
    order = np.lexsort((rows["day"], household_rank[rows["hh"]]))
    hh = rows["hh"][order]
    data = {
        "household_id": _household_ids(villages, people).gather(hh),
        "village_code": villages.frame["village_code"].gather(rows["village"][order]),
        "head_name": people.head_name.gather(hh),
        "head_id_number": people.head_id.gather(hh),
        "collected_on": rows["day"][order],
    }
    enums = {"education": EDUCATION_LEVELS, "income_project": INCOME_PROJECTS, "honor": HONORS}
    for column in HOUSEHOLDS.columns[5:]:
        values = rows[column.name][order]
        if column.name in enums:
            data[column.name] = pl.Series(list(enums[column.name])).gather(values)
        else:
            data[column.name] = values
    return pl.DataFrame(data)


def _loans_frame(
    book: dict[str, np.ndarray], people: _People, entities: _Entities, villages: _Villages
) -> pl.DataFrame:
    household_ids = _household_ids(villages, people)
    entity_ids = entities.frame["entity_id"]
    borrower = book["borrower"]
    is_entity = book["borrower_type"] == 1
    of_household = household_ids.gather(np.where(is_entity, 0, borrower))
    of_entity = entity_ids.gather(np.where(is_entity, borrower, 0)) if entities.n else of_household
    borrower_id = of_entity.zip_with(pl.Series(is_entity), of_household)
    return pl.DataFrame(
        {
            "loan_id": _loan_ids(book["disbursed"]),
            "borrower_type": pl.Series(["农户", "经营主体"]).gather(book["borrower_type"]),
            "borrower_id": borrower_id,
            "bank": pl.Series([*villages.banks, POSTAL_BANK]).gather(book["bank"]),
            "product": pl.Series(list(PRODUCTS)).gather(book["product"]),
            "amount": book["amount"],
            "disbursed_on": book["disbursed"],
            "maturity_on": book["maturity"],
            "annual_rate": book["rate"],
            "benchmark_rate": book["benchmark"],
            "repayment_method": pl.Series(list(REPAYMENT_METHODS)).gather(book["method"]),
            "written_off_on": book["written_off"],
        }
    )


def _loan_ids(disbursed: np.ndarray) -> pl.Series:
    """贷款编号 DK + year + serial within the year (loans are in disbursement order)."""
    year = _as_dt(disbursed).astype("datetime64[Y]").astype(np.int64) + 1970
    starts = np.searchsorted(year, year, side="left")
    serial = np.arange(year.size) - starts + 1
    return "DK" + pl.Series(year).cast(pl.String) + pl.Series(serial).cast(pl.String).str.zfill(6)


def _schedule_frame(book: dict[str, np.ndarray]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "loan_id": _loan_ids(book["disbursed"]).gather(book["s_loan"]),
            "installment_no": book["s_no"],
            "due_on": book["s_due"],
            "principal_due": book["s_principal"],
            "interest_due": book["s_interest"],
        }
    )


def _payments_frame(book: dict[str, np.ndarray]) -> pl.DataFrame:
    # 还款流水号 numbers payments in the order the bank booked them.
    order = np.lexsort((book["p_loan"], book["p_day"]))
    day = book["p_day"][order]
    stamp = pl.Series(day).cast(pl.Int32).cast(pl.Date).dt.strftime("%Y%m%d")
    serial = pl.Series(np.arange(1, day.size + 1)).cast(pl.String).str.zfill(8)
    return pl.DataFrame(
        {
            "payment_id": "HK" + stamp + serial,
            "loan_id": _loan_ids(book["disbursed"]).gather(book["p_loan"][order]),
            "paid_on": day,
            "principal_paid": book["p_principal"][order],
            "interest_paid": book["p_interest"][order],
        }
    )


def _write(raw_file: RawFile, frame: pl.DataFrame, path: Path) -> int:
    """Write the canonical CSV: schema columns in order, 是/否, two-decimal amounts."""
    exprs = []
    for column in raw_file.columns:
        value = pl.col(column.name)
        if column.kind == "amount":
            text = pl.concat_str(
                [
                    (value // 100).cast(pl.String),
                    pl.lit("."),
                    (value % 100).cast(pl.String).str.zfill(2),
                ]
            )
            value = pl.when(pl.col(column.name) < 0).then(None).otherwise(text)
        elif column.kind == "rate":
            text = pl.lit("0.") + value.cast(pl.String).str.zfill(6)
            value = text.str.replace(r"0{1,2}$", "")
        elif column.kind == "bool":
            value = (
                pl.when(value == 1)
                .then(pl.lit("是"))
                .when(value == 0)
                .then(pl.lit("否"))
                .otherwise(None)
            )
        elif column.kind == "date":
            value = (
                pl.when(value >= NO_DATE).then(None).otherwise(value).cast(pl.Int32).cast(pl.Date)
            )
        exprs.append(value.alias(column.name))
    frame.lazy().select(exprs).sink_csv(
        path, include_bom=False, line_terminator="\n", null_value="", maintain_order=True
    )
    return frame.height


def split_last_month(raw_dir: Path, history_out: Path, delivery_out: Path) -> date:
    """Split a canonical raw folder into its history and a monthly delivery of its last month, as
    the village teams and the bank would send it: the month's collections, new loans with their
    plans, payments, and the earlier loans written off that month (re-sent with the write-off).
    Returns the first day of that month."""
    import duckdb

    con = duckdb.connect()

    def read(name: str) -> str:
        path = str(Path(raw_dir) / f"{name}.csv").replace("'", "''")
        return f"read_csv('{path}', header=true, all_varchar=true)"

    last = con.execute(
        f"""
        select max(day) from (
            select max(collected_on) as day from {read("households")}
            union all select max(disbursed_on) from {read("loans")}
            union all select max(written_off_on) from {read("loans")}
            union all select max(paid_on) from {read("repayments")}
        )
        """
    ).fetchone()[0]
    month_start = date.fromisoformat(last).replace(day=1)
    cutoff = month_start.isoformat()
    loans_columns = ", ".join(
        f"case when written_off_on >= '{cutoff}' then null else {name} end as {name}"
        if name == "written_off_on"
        else name
        for name in LOANS.column_names
    )
    parts = {
        history_out: {
            "villages": f"select * from {read('villages')}",
            "entities": f"select * from {read('entities')}",
            "households": f"select * from {read('households')} where collected_on < '{cutoff}'",
            "loans": f"select {loans_columns} from {read('loans')} where disbursed_on < '{cutoff}'",
            "schedule": f"""select * from {read("schedule")} where loan_id in (
                select loan_id from {read("loans")} where disbursed_on < '{cutoff}')""",
            "repayments": f"select * from {read('repayments')} where paid_on < '{cutoff}'",
        },
        delivery_out: {
            "households": f"select * from {read('households')} where collected_on >= '{cutoff}'",
            "loans": f"""select * from {read("loans")}
                where disbursed_on >= '{cutoff}' or written_off_on >= '{cutoff}'""",
            "schedule": f"""select * from {read("schedule")} where loan_id in (
                select loan_id from {read("loans")} where disbursed_on >= '{cutoff}')""",
            "repayments": f"select * from {read('repayments')} where paid_on >= '{cutoff}'",
        },
    }
    for folder, files in parts.items():
        Path(folder).mkdir(parents=True, exist_ok=True)
        for name, sql in files.items():
            target = str(Path(folder) / f"{name}.csv").replace("'", "''")
            con.execute(f"copy ({sql}) to '{target}' (header, delimiter ',')")
    con.close()
    return month_start
