"""带贫经营主体: a few companies, cooperatives and family farms per township."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from huinong.demo.draws import choice, group_starts
from huinong.demo.geography import Villages
from huinong.demo.names import credit_code, person_names
from huinong.schema import ENTITY_KINDS

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
ENTITIES_PER_TOWNSHIP = (2, 5)  # at least, at most
KINDS = {0: 0.2, 1: 0.5, 2: 0.3}  # indexes into ENTITY_KINDS
CREDIT_CODE_PREFIXES = ("91", "93", "92")  # company, cooperative, individual business
MALE_OWNER_SHARE = 0.9
# Poor households each kind of entity brings along: (at least, at most).
POOR_LINKED = ((30, 150), (10, 60), (3, 20))


@dataclass
class Entities:
    frame: pl.DataFrame  # the entities file
    village: np.ndarray
    kind: np.ndarray  # index into ENTITY_KINDS

    @property
    def n(self) -> int:
        return self.village.size


def make_entities(villages: Villages, rng: np.random.Generator) -> Entities:
    """A few 带贫经营主体 per township, each in a different village."""
    fewest, most = ENTITIES_PER_TOWNSHIP
    per_township = rng.integers(fewest, most + 1, villages.n_townships)
    order = np.lexsort((rng.random(villages.n), villages.township))
    township_sorted = villages.township[order]
    starts = group_starts(township_sorted, villages.n_townships)
    rank = np.arange(villages.n) - starts[township_sorted]
    village = np.sort(order[rank < per_township[township_sorted]])
    n = village.size
    kind = choice(rng, n, KINDS)
    frame = villages.frame
    codes = frame["village_code"].to_list()
    village_names = frame["village_name"].to_list()
    township_names = frame["township_name"].to_list()
    county_names = [villages.county_names[t] for t in villages.township]

    industry = rng.integers(0, len(COOP_INDUSTRIES), n)
    brand = rng.permutation(len(COMPANY_BRANDS) // 2 * len(COMPANY_INDUSTRIES))
    owner = person_names(rng.random(n) < MALE_OWNER_SHARE, rng).to_list()
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
        credit_codes.append(credit_code(CREDIT_CODE_PREFIXES[k], codes[v][:6], rng))
    linked = np.select(
        [kind == 0, kind == 1],
        [rng.integers(low, high + 1, n) for low, high in POOR_LINKED[:2]],
        rng.integers(POOR_LINKED[2][0], POOR_LINKED[2][1] + 1, n),
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
    return Entities(entity_frame, village, kind)
