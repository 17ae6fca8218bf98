"""People's names and the official identifiers of people (身份证号) and businesses (信用代码)."""

from __future__ import annotations

import numpy as np
import polars as pl

from huinong.demo.dates import as_datetime

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严武戴孔常屈宁"
)
MALE_CHARS = "建国军民华伟强明平志福德文学立新永海长春生林山宝金全保中庆东有成卫勇刚俊杰涛鹏超辉磊峰斌亮根旺富贵胜利兵洪发忠战占双喜"
FEMALE_CHARS = "秀英兰芳玉桂梅珍凤花霞琴云丽娟红香莲艳敏静燕萍翠菊荣爱巧彩银素月"
SINGLE_CHARACTER_NAME_SHARE = 0.2

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = "10X98765432"
CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORGANISATION_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def person_names(male: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Chinese names: a common surname (the first ones far more often) and one or two characters."""
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
    single = rng.random(n) < SINGLE_CHARACTER_NAME_SHARE
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


def id_numbers(
    region: np.ndarray, birth: np.ndarray, male: np.ndarray, rng: np.random.Generator
) -> pl.Series:
    """18-character 居民身份证号码 (GB 11643), unique, check digit valid."""
    dt = as_datetime(birth)
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
    powers = 10 ** np.arange(16, -1, -1, dtype=np.int64)
    total = ((body[:, None] // powers) % 10 * ID_WEIGHTS).sum(axis=1)
    check = pl.Series(list(ID_CHECK)).gather(total % 11)
    return pl.Series(body).cast(pl.String) + check


def credit_code(prefix: str, region: str, rng: np.random.Generator) -> str:
    """统一社会信用代码 (GB 32100) with a valid GB 11714 organisation code inside."""
    body = "".join(str(digit) for digit in rng.integers(0, 10, 8))
    total = sum(int(c) * w for c, w in zip(body, ORGANISATION_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    organisation = body + {10: "X", 11: "0"}.get(check, str(check))
    stem = prefix + region + organisation
    total = sum(
        CREDIT_CODE_CHARS.index(c) * w for c, w in zip(stem, CREDIT_CODE_WEIGHTS, strict=True)
    )
    return stem + CREDIT_CODE_CHARS[(31 - total % 31) % 31]
