"""Villages: the district's 47 real ones, then synthetic ones in the neighbouring counties."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from huinong import REPO_ROOT
from huinong.demo.names import SURNAMES
from huinong.schema import VILLAGES

VILLAGES_CSV = REPO_ROOT / "seeds" / "hubin_villages.csv"

# A real village of the district has 400-500 households; more households than the
# 47 real villages hold means synthetic villages in the other counties of 三门峡市.
HOUSEHOLDS_PER_VILLAGE = 450
HUBIN_COUNTY = (411202, "湖滨区", "三门峡湖滨农村商业银行")
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
TOWNSHIPS_PER_COUNTY = 198
# The bank of the loans a county's rural commercial bank does not make.
POSTAL_BANK = "中国邮政储蓄银行三门峡市分行"

MIN_VILLAGES_PER_TOWNSHIP = 6
MAX_VILLAGES_PER_TOWNSHIP = 14
TOWN_SHARE = 0.6  # 镇 rather than 乡
VILLAGE_CODE_GAP_SHARE = 0.15
REAL_TOWN_STEMS = {"会兴", "崖底", "交口", "磁钟", "高庙"}
TOWN_FIRST = "大小东西南北上下新老高石张王李陈杨赵马刘宋官龙凤金玉青白长安永宜观英常仓洪杜朱柏桃杏槐柳郭段崤函虢"
TOWN_SECOND = "营庄店头口桥河沟坡岭原寨峪湾集坪阳川关里堡塬庙铺渠洼村"
VILLAGE_PLACES = "庄沟坡岭洼湾河寨店营峪渠"
VILLAGE_PREFIXES = "东西南北上下前后大小新老石高柳槐杨桃杏枣榆松"
VILLAGE_PLACES_2 = "庄沟坡岭洼湾河寨店营峪渠头口门园原坪塬"


@dataclass
class Villages:
    frame: pl.DataFrame  # the villages file
    township: np.ndarray  # township index of each village, in order of first appearance
    n_townships: int
    banks: list[str]  # the county's rural commercial bank, per township
    county_names: list[str]  # per township

    @property
    def n(self) -> int:
        return self.frame.height


def make_villages(households: int, rng: np.random.Generator) -> Villages:
    real = pl.read_csv(VILLAGES_CSV, infer_schema=False).select(VILLAGES.column_names)
    needed = max(real.height, math.ceil(households / HOUSEHOLDS_PER_VILLAGE))
    frames = [real]
    county_of: dict[str, tuple[str, str]] = {}
    if needed > real.height:
        extra = max(needed - real.height, MIN_VILLAGES_PER_TOWNSHIP)
        synthetic, county_of = _synthetic_villages(extra, rng)
        frames.append(synthetic)
    frame = pl.concat(frames)
    townships = list(dict.fromkeys(frame["township_code"].to_list()))
    index = {code: position for position, code in enumerate(townships)}
    township = np.array([index[code] for code in frame["township_code"].to_list()])
    banks = [county_of.get(code, HUBIN_COUNTY[1:])[1] for code in townships]
    county_names = [county_of.get(code, HUBIN_COUNTY[1:])[0] for code in townships]
    return Villages(frame, township.astype(np.int64), len(townships), banks, county_names)


def _township_sizes(count: int, rng: np.random.Generator) -> list[int]:
    """6-14 villages per township, adding up to `count` (the last ones adjusted)."""
    low, high = MIN_VILLAGES_PER_TOWNSHIP, MAX_VILLAGES_PER_TOWNSHIP
    sizes: list[int] = []
    remaining = count
    while remaining > 0:
        size = min(int(rng.integers(low, high + 1)), remaining)
        if 0 < remaining - size < low:
            size = remaining - low if remaining - low >= low else remaining
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
        kind = "镇" if rng.random() < TOWN_SHARE else "乡"
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
        suffixes = 199 + np.cumsum(np.where(rng.random(size) < VILLAGE_CODE_GAP_SHARE, 2, 1))
        for stem, suffix in zip(picked, suffixes, strict=True):
            columns["township_code"].append(township_code)
            columns["township_name"].append(township_name)
            columns["village_code"].append(f"{township_code}{suffix:03d}")
            columns["village_name"].append(stems[stem] + "村")
    return pl.DataFrame(columns).sort("village_code"), county_of
