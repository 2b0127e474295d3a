"""The demo district: Fuling's subdistricts with invented communities and grids, residents
with common names, their children's phone numbers from a range reserved for fiction, and
the community doctors. Pure: the same seed gives the same district."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

# Fuling's subdistricts (real); the communities in them are invented.
SUBDISTRICTS: dict[str, tuple[str, str]] = {
    "敦仁街道": ("太白社区", "兴华社区"),
    "崇义街道": ("望州社区", "顺江社区"),
    "荔枝街道": ("荔园社区", "滨江社区"),
    "江北街道": ("北岸社区", "梨香社区"),
    "江东街道": ("群星社区", "东山社区"),
    "李渡街道": ("渡口社区", "新城社区"),
    "龙桥街道": ("龙潭社区", "石桥社区"),
    "马鞍街道": ("鞍山社区", "清溪社区"),
}
GRIDS = ("第一网格", "第二网格", "第三网格")
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢傅钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾"
)
ELDER_NAMES = {
    "female": (
        "秀英",
        "桂兰",
        "玉兰",
        "淑芬",
        "凤英",
        "秀兰",
        "玉珍",
        "桂芳",
        "素芬",
        "淑珍",
        "翠花",
        "春兰",
        "桂英",
        "玉梅",
        "秀珍",
        "德芳",
        "美华",
        "兰英",
        "菊芬",
        "秀芳",
    ),
    "male": (
        "建国",
        "国华",
        "德明",
        "志强",
        "永福",
        "长林",
        "明德",
        "国庆",
        "文华",
        "世明",
        "光荣",
        "学文",
        "德福",
        "永贵",
        "云山",
        "正清",
        "家树",
        "福生",
        "洪才",
        "振华",
    ),
}
CHILD_NAMES = (
    "小红",
    "丽",
    "伟",
    "静",
    "敏",
    "磊",
    "燕",
    "军",
    "勇",
    "霞",
    "涛",
    "娟",
    "强",
    "芳",
    "杰",
    "琳",
    "斌",
    "莉",
    "鹏",
    "婷",
)
CHILDREN = (("女儿", "daughter"), ("儿子", "son"), ("儿媳", "daughter-in-law"))
# North American numbers 555-0100 to 555-0199 are reserved for fiction in every area code:
# no real phone is behind them, whatever a demo sends.
AREA_CODES = (201, 202, 206, 212, 213, 305, 312, 415, 503, 512, 617, 702, 713, 718, 808, 917)
PASSWORD = "linli-demo"  # noqa: S105 - the demo's published password, not a secret


def fictional_phones() -> Iterator[str]:
    """Every number of the fiction range, in a fixed order."""
    for area in AREA_CODES:
        for line in range(100, 200):
            yield f"+1{area}5550{line:03d}"


@dataclass(frozen=True)
class Place:
    """A community in a subdistrict, with its grids."""

    subdistrict: str
    community: str
    grids: tuple[str, ...]

    @property
    def name(self) -> str:
        """The community's name as the pages show it."""
        return f"{self.subdistrict}{self.community}"


@dataclass(frozen=True)
class Child:
    """A resident's son or daughter, who gets the messages."""

    name: str
    relationship: str
    phone: str


@dataclass(frozen=True)
class Person:
    """A resident's name, sex and children (the health figures come from the cohort)."""

    name: str
    sex: str
    children: tuple[Child, ...]


@dataclass(frozen=True)
class Doctor:
    """A community doctor: their sign-in and the subdistrict they serve."""

    username: str
    display_name: str
    subdistrict: str


def places() -> list[Place]:
    """Every community of the district."""
    return [
        Place(subdistrict, community, GRIDS)
        for subdistrict, communities in SUBDISTRICTS.items()
        for community in communities
    ]


def doctors() -> list[Doctor]:
    """One doctor per subdistrict; `doctor` serves the first, where the live homes are."""
    found = []
    for number, subdistrict in enumerate(SUBDISTRICTS, start=1):
        username = "doctor" if number == 1 else f"doctor{number}"
        found.append(Doctor(username, f"{SURNAMES[number]}医生", subdistrict))
    return found


def people(count: int, seed: int) -> list[Person]:
    """`count` residents, each with one or two children, phones never repeated."""
    rng = random.Random(seed)
    phones = fictional_phones()
    found = []
    for _ in range(count):
        sex = rng.choice(("female", "male"))
        surname = rng.choice(SURNAMES)
        children = []
        for _ in range(rng.choice((1, 1, 2))):
            relationship, _english = rng.choice(CHILDREN)
            child_surname = surname if relationship != "儿媳" else rng.choice(SURNAMES)
            children.append(
                Child(child_surname + rng.choice(CHILD_NAMES), relationship, next(phones))
            )
        found.append(Person(surname + rng.choice(ELDER_NAMES[sex]), sex, tuple(children)))
    return found
