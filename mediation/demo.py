"""The demo county: 西充县 (511325, Sichuan) with villages, committees, mediators and a
year of disputes, loaded through the real service functions.

`load()` is idempotent: regions, organisations and mediators that exist are kept, and the
disputes are generated only while the county has none. Everything is deterministic from
`SEED` except ids, case numbers and the moment it runs (dispute times are relative to
`clock.now()`).

The generator is split in two: `plan_dispute` is pure (a seeded random plan of one
dispute's registration and actions against a `Directory` of organisations), and `load`
carries the plans out with `disputes.register` and `disputes.transition`, several at a
time, so the events, audit entries and statistics columns are the service's own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace as NS
from typing import Any

from mediation import clock, db, disputes, orgs, regions
from mediation.access import Principal
from mediation.idnumbers import credit_code_check_char, resident_id_check_char

SEED = 20261124
COUNTY = "511325"
COUNTY_NAME = "西充县"
COUNTY12 = COUNTY + "000000"
DISPUTES_FULL = 3000
CONCURRENCY = 8
WINDOW = dt.timedelta(days=365)

#: the demo writes as an admin; the audit log names it
PRINCIPAL = Principal(role="admin", actor="system:demo")

Progress = Callable[..., None] | None

CENTER_NAME = "西充县矛盾纠纷多元化解中心"
#: dispute type → the county's industry committee for it
INDUSTRY: dict[str, str] = {
    "medical": "西充县医疗纠纷人民调解委员会",
    "traffic": "西充县道路交通事故人民调解委员会",
    "labor": "西充县劳动争议人民调解委员会",
}


# ---------------------------------------------------------------- names

SURNAMES = ("王李张刘陈杨黄赵吴周何罗谢唐任蒋杜冯胡邓苟袁侯母鲜向宋彭曾徐孙马蒲文敬"
            "赵杨何李王张陈刘")
MALE_GIVEN = ("建国", "志强", "德明", "国华", "明亮", "文才", "长贵", "洪波", "俊", "勇", "涛", "杰", "刚",
              "平", "军", "富贵", "正华", "成林", "学文", "光荣", "永福", "德才", "小龙", "海", "伟", "强",
              "家林", "国平", "世清", "开明", "大春", "万军", "朝阳", "兴国", "云飞", "斌")
FEMALE_GIVEN = ("秀英", "桂兰", "淑芬", "玉梅", "春花", "丽", "芳", "娟", "霞", "红梅", "燕", "琴", "晓燕",
                "雪梅", "素华", "小红", "利", "琼", "英", "慧", "玉兰", "翠华", "德芳", "桂芳", "红", "莉")

VILLAGE_HEADS = "青白石双金凤龙马狮鹤桂柏松槐桃梨莲竹柳新红永长太和天万高大上下东西南清玉宝福寿兴隆观"
VILLAGE_TAILS = ("龙", "塔", "桥", "河", "山", "林", "坪", "湾", "垭", "岩", "沟", "坝", "井", "堰", "庙",
                 "岭", "坡", "台", "园", "田", "池", "柏", "庵", "峰")
COMMUNITY_STEMS = ("南门", "北门", "东街", "西街", "滨江", "文化", "紫岩", "凤凰台", "莲池", "桂花园",
                   "晋城", "双龙", "新华", "光明", "育才", "春晖", "和平", "金泉", "书院", "华光")

COMPANY_WORDS = ("华鑫", "鑫源", "蜀丰", "嘉陵", "川北", "顺达", "宏发", "金穗", "丰源", "瑞祥", "天和", "恒通",
                 "永盛", "凤鸣", "西凤", "充国")
PHONE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
                  "157", "158", "159", "166", "177", "180", "181", "182", "183", "187", "188", "189", "191",
                  "193", "198", "199")
#: address codes of resident IDs: mostly born in the county, some in Nanchong's other counties
ID_AREAS = (("511325", 70), ("511302", 4), ("511303", 4), ("511304", 3), ("511321", 4), ("511322", 3),
            ("511323", 3), ("511324", 4), ("511381", 3), ("510104", 2))


def person_name(rng: random.Random, female: bool | None = None) -> str:
    if female is None:
        female = rng.random() < 0.45
    return rng.choice(SURNAMES) + rng.choice(FEMALE_GIVEN if female else MALE_GIVEN)


def phone(rng: random.Random) -> str:
    return rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10 ** 8):08d}"


def resident_id(rng: random.Random, *, female: bool, on: dt.date) -> str:
    """A GB 11643 resident ID of an adult (18–80) on `on`, with its correct check character."""
    area = rng.choices([a for a, _ in ID_AREAS], weights=[w for _, w in ID_AREAS])[0]
    born = on - dt.timedelta(days=rng.randint(18 * 366, 80 * 365))
    seq = rng.randrange(100) * 10 + rng.choice((0, 2, 4, 6, 8) if female else (1, 3, 5, 7, 9))
    first17 = f"{area}{born:%Y%m%d}{seq:03d}"
    return first17 + resident_id_check_char(first17)


def credit_code(rng: random.Random, kind: str) -> str:
    """A GB 32100 unified social credit code registered in the county (`kind`: 91 company,
    12 public institution, 11 government body)."""
    body = [rng.randrange(10) for _ in range(8)]
    c9 = 11 - sum(d * w for d, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    org_code = "".join(map(str, body)) + {10: "X", 11: "0"}.get(c9, str(c9))
    first17 = kind + COUNTY + org_code
    return first17 + credit_code_check_char(first17)


# ---------------------------------------------------------------- the county's villages

@dataclass(frozen=True)
class Village:
    code: str            # 12 digits
    name: str
    township: str        # 12 digits
    township_name: str


def township_rows() -> list[tuple[str, str]]:
    """(12-digit code, name) of the county's township-level units from the shipped file."""
    text = (regions.DATA_DIR / "streets.csv").read_text(encoding="utf-8")
    return [(regions.canonical(code), name) for code, name, _ in regions.parse_division_file(text)
            if code.startswith(COUNTY)]


def villages(scale: float = 1.0) -> list[Village]:
    """The generated villages and communities (about 300 at scale 1), codes
    `<township><200…>`; at a smaller scale each township keeps its first ones (at least one)."""
    rng = random.Random(f"{SEED}:villages")
    pool = [h + t for h in VILLAGE_HEADS for t in VILLAGE_TAILS if h != t]
    rng.shuffle(pool)
    stems = iter(pool)
    communities = list(COMMUNITY_STEMS)
    rng.shuffle(communities)
    community_stems = iter(communities)
    out: list[Village] = []
    used: set[str] = set()
    for code12, tname in township_rows():
        number = int(code12[6:9])
        if number < 100:          # 街道: communities only
            full = [next(community_stems) + "社区" for _ in range(rng.randint(7, 9))]
        elif number < 200:        # 镇: the seat's community, then villages
            full = [tname[:-1] + "社区"] + [""] * rng.randint(13, 17)
        else:                     # 乡: villages
            full = [""] * rng.randint(8, 11)
        names = []
        for n in full:
            while not n or n in used:
                n = next(stems) + "村"
            used.add(n)
            names.append(n)
        keep = len(names) if scale >= 1 else max(1, round(len(names) * scale))
        for i, n in enumerate(names[:keep]):
            out.append(Village(code=f"{code12[:9]}{200 + i:03d}", name=n, township=code12, township_name=tname))
    return out


# ---------------------------------------------------------------- organisations

@dataclass(frozen=True)
class OrgSpec:
    key: str             # village:<code> | township:<code> | center | industry:<type>
    name: str
    tier: str
    kind: str
    region_code: str


def org_specs(vills: list[Village]) -> list[OrgSpec]:
    specs = [OrgSpec("center", CENTER_NAME, "county", "county_center", COUNTY12)]
    specs += [OrgSpec(f"industry:{t}", name, "county", "industry_committee", COUNTY12) for t, name in INDUSTRY.items()]
    specs += [OrgSpec(f"township:{code}", f"{name}人民调解委员会", "township", "township_committee", code)
              for code, name in township_rows()]
    specs += [OrgSpec(f"village:{v.code}", f"{v.name}人民调解委员会", "village", "village_committee", v.code)
              for v in vills]
    return specs


def mediator_specs(spec: OrgSpec) -> list[tuple[str, str]]:
    """3–9 (name, phone) for one committee, the same every time."""
    rng = random.Random(f"{SEED}:mediators:{spec.key}")
    count = rng.randint(5, 9) if spec.tier != "village" else rng.randint(3, 7)
    names: list[str] = []
    while len(names) < count:
        n = person_name(rng)
        if n not in names:
            names.append(n)
    return [(n, phone(rng)) for n in names]


@dataclass(frozen=True)
class OrgRef:
    id: uuid.UUID
    name: str
    tier: str
    mediator_ids: tuple[uuid.UUID, ...]


@dataclass
class Directory:
    villages: list[Village]
    orgs: dict[str, OrgRef] = field(default_factory=dict)   # by OrgSpec.key

    def village_org(self, v: Village) -> OrgRef:
        return self.orgs[f"village:{v.code}"]

    def township_org(self, v: Village) -> OrgRef:
        return self.orgs[f"township:{v.township}"]


# ---------------------------------------------------------------- one dispute's plan

TYPE_WEIGHTS = {
    "neighbor": 20, "marriage_family": 15, "housing_homestead": 10, "land_forest": 9, "damages": 10,
    "contract": 7, "labor": 7, "production_business": 4, "traffic": 4, "medical": 2, "land_requisition": 3,
    "consumer": 2, "property_management": 2, "environment": 1.5, "other": 3.5,
}
#: entry tier → source weights (no court_entrusted: courts arrive through their API)
SOURCE_WEIGHTS = {
    "village": {"application": 55, "screening": 35, "hotline": 3, "police": 4, "petition": 2, "agency": 1},
    "township": {"application": 45, "screening": 25, "hotline": 8, "police": 12, "petition": 6, "agency": 4},
    "county": {"application": 35, "screening": 5, "hotline": 25, "police": 10, "petition": 15, "agency": 10},
}
#: type → (share of disputes with an amount, low, high) in yuan
AMOUNTS = {
    "damages": (0.9, 500, 60000), "contract": (0.95, 2000, 200000), "labor": (0.95, 3000, 80000),
    "traffic": (1.0, 3000, 300000), "medical": (1.0, 10000, 400000), "land_requisition": (0.9, 20000, 300000),
    "consumer": (0.95, 200, 20000), "property_management": (0.8, 500, 12000), "housing_homestead": (0.3, 5000, 100000),
    "land_forest": (0.4, 1000, 30000), "marriage_family": (0.3, 10000, 120000),
    "production_business": (0.9, 5000, 200000), "environment": (0.6, 2000, 50000), "neighbor": (0.15, 200, 8000),
    "other": (0.2, 500, 20000),
}
GROUP_TYPES = {"land_requisition": 0.35, "labor": 0.12, "land_forest": 0.06, "environment": 0.4,
               "property_management": 0.25, "housing_homestead": 0.02}
#: types whose respondent is often an organisation: (share, credit-code kind, name patterns)
ORG_RESPONDENTS = {
    "labor": (0.85, "91", ("四川{w}建筑劳务有限公司", "西充县{w}农业开发有限公司", "南充{w}服装有限公司")),
    "medical": (1.0, "12", ("西充县人民医院", "西充县中医医院", "{town}卫生院")),
    "consumer": (0.8, "91", ("西充县{w}商贸有限公司", "西充{w}家电经营部", "南充{w}汽车销售有限公司")),
    "property_management": (0.9, "91", ("西充县{w}物业服务有限公司",)),
    "contract": (0.4, "91", ("南充{w}建材有限公司", "西充县{w}农业开发有限公司", "四川{w}建设工程有限公司")),
    "production_business": (0.5, "91", ("西充县{w}养殖专业合作社", "西充{w}食品有限公司")),
    "land_requisition": (0.7, "11", ("{town}人民政府",)),
    "environment": (0.6, "91", ("西充县{w}养殖场", "南充{w}砖厂")),
}

SUMMARIES = {
    "neighbor": ("{a}与{b}因{place}房前排水沟堵塞导致雨水倒灌发生纠纷", "{a}与邻居{b}因修建围墙占用公共通道发生争执",
                 "{a}与{b}因{b}家饲养的狗咬伤{a}家禽发生邻里纠纷", "{a}与{b}因相邻房屋滴水、采光问题发生纠纷"),
    "marriage_family": ("{a}与{b}因赡养老人费用分担发生家庭纠纷", "{a}与{b}婚后感情不和，就子女抚养及财产分割发生纠纷",
                        "{a}与{b}兄弟之间因父母遗留房屋继承发生纠纷", "{a}与{b}因抚养费支付问题发生纠纷"),
    "housing_homestead": ("{a}与{b}因{place}宅基地边界划分发生纠纷", "{a}与{b}因房屋买卖后过户手续发生纠纷",
                          "{a}与{b}因翻建房屋占用对方宅基地发生纠纷"),
    "land_forest": ("{a}与{b}因{place}承包地边界发生纠纷", "{a}与{b}因山林权属及林木砍伐发生纠纷",
                    "{a}与{b}因土地流转租金支付发生纠纷"),
    "damages": ("{a}被{b}驾驶的三轮车撞伤，双方就医疗费赔偿发生纠纷",
                "{a}与{b}因打架致伤，就医疗费、误工费赔偿发生纠纷", "{b}施工时损坏{a}房屋，双方就赔偿发生纠纷"),
    "contract": ("{a}与{b}因房屋装修工程款结算发生合同纠纷", "{a}与{b}因借款到期未还发生纠纷",
                 "{a}与{b}因农产品购销货款发生纠纷"),
    "labor": ("{a}等在{b}务工，因工资被拖欠发生劳动争议", "{a}在{b}务工期间受伤，就工伤待遇发生纠纷",
              "{a}与{b}因解除劳动关系经济补偿发生争议"),
    "production_business": ("{a}与{b}因合伙养殖经营利润分配发生纠纷", "{a}与{b}因农资质量导致减产发生纠纷"),
    "traffic": ("{a}与{b}在{place}村道发生交通事故，就损害赔偿发生纠纷",
                "{b}驾驶车辆与{a}驾驶的摩托车相撞，双方就赔偿发生纠纷"),
    "medical": ("{a}在{b}就诊后病情加重，认为存在医疗过错发生医疗纠纷", "{a}家属对{b}手术后果不满，要求赔偿"),
    "land_requisition": ("{a}等村民对{place}征地补偿款分配有异议，与{b}发生纠纷",
                         "{a}与{b}因房屋拆迁安置补偿标准发生纠纷"),
    "consumer": ("{a}在{b}购买的电器出现质量问题，要求退换发生纠纷", "{a}与{b}因预付卡退款发生消费纠纷"),
    "property_management": ("{a}等业主与{b}因物业服务质量及物业费收取发生纠纷",
                            "{a}与{b}因小区停车位管理发生纠纷"),
    "environment": ("{a}等村民反映{b}排放的污水影响稻田，要求赔偿", "{a}与{b}因养殖场异味噪声扰民发生纠纷"),
    "other": ("{a}与{b}因红白喜事借用场地发生纠纷", "{a}与{b}因网络言语争执发生纠纷"),
}
TERMS_MONEY = ("{b}于{due}前一次性支付{a}{amount}元，双方就此纠纷再无其他争议。",
               "{b}分两期向{a}支付共计{amount}元，首期于{due}前付清，双方今后互不追究。",
               "经协商，{b}赔偿{a}各项损失共计{amount}元，于{due}前履行完毕。")
TERMS_PLAIN = ("双方同意按原有界址为准，{b}拆除越界部分，今后和睦相处。", "{b}当面向{a}赔礼道歉，双方握手言和。",
               "双方约定共同承担相应义务，按协议内容自行履行。", "双方互谅互让，{b}于一周内整改完毕，{a}不再追究。")
SESSION_NOTES = ("召集双方当事人到场，听取陈述并核实情况", "释法说理，引导双方互谅互让",
                 "实地查看现场，背靠背做双方工作", "邀请村组干部及亲友参与调解，双方初步形成意向",
                 "电话联系双方，进一步沟通赔偿数额")
ESCALATE_REASONS = ("本级调委会调解未果，涉及金额较大，报请上级调委会调解", "纠纷涉及多方利益，本级难以化解，申请上移",
                    "双方分歧较大，经两次调解未果，报请上级调解")
ASSIGN_REASONS = ("按属地管理原则分流交办属地调委会调解", "纠纷发生地调委会熟悉情况，交办属地化解")
FAIL_REASONS = ("双方分歧较大，经多次调解未能达成一致", "被申请人拒不接受调解方案，调解终止",
                "双方对赔偿数额差距过大，无法达成协议")
WITHDRAW_REASONS = ("申请人撤回调解申请", "双方已自行和解，申请撤回", "被申请人明确拒绝继续调解")
REJECT_REASONS = ("该纠纷已由人民法院受理，依法不予受理", "一方当事人明确拒绝调解，不予受理",
                  "该事项属于行政复议范围，告知当事人依法申请")


@dataclass
class Plan:
    """One dispute: the registration and the actions after it, in order."""

    index: int
    registration: Any
    steps: list[tuple[str, Any]]
    entry_org: OrgRef


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _business_time(rng: random.Random, day: dt.date) -> dt.datetime:
    minutes = rng.randint(8 * 60 + 30, 17 * 60 + 30)
    return dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=clock.TZ)


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    # log-uniform, rounded as people round
    value = low * (high / low) ** rng.random()
    step = 100 if value >= 5000 else 10
    return Decimal(int(value // step * step)).quantize(Decimal("0.01"))


def _party(rng: random.Random, role: str, name: str, *, on: dt.date, address: str) -> NS:
    female = name[1:] in FEMALE_GIVEN
    return NS(role=role, kind="person", name=name,
              id_number=resident_id(rng, female=female, on=on) if rng.random() < 0.55 else None,
              phone=phone(rng) if rng.random() < 0.75 else None,
              address=address if rng.random() < 0.6 else None)


def _registered_at(rng: random.Random, now: dt.datetime) -> dt.datetime:
    """Spread over the last year, busier around the Spring Festival and the farming seasons."""
    month_weight = {1: 1.35, 2: 1.3, 3: 1.0, 4: 1.1, 5: 1.1, 6: 0.9, 7: 0.85, 8: 1.0, 9: 1.05, 10: 0.95,
                    11: 0.9, 12: 1.05}
    while True:
        at = now - WINDOW * rng.random()
        local = at.astimezone(clock.TZ)
        if rng.random() * 1.35 > month_weight[local.month]:
            continue
        if local.weekday() >= 5 and rng.random() < 0.5:
            continue
        candidate = _business_time(rng, local.date())
        if candidate > now - dt.timedelta(minutes=5):      # today, before office hours are over
            candidate = _business_time(rng, local.date() - dt.timedelta(days=1))
        return candidate


def plan_dispute(index: int, directory: Directory, now: dt.datetime) -> Plan:
    """The seeded plan of dispute `index`: pure, so tests and the loader agree."""
    rng = random.Random(f"{SEED}:dispute:{index}")
    village = rng.choice(directory.villages)
    dtype = _weighted(rng, TYPE_WEIGHTS)
    registered_at = _registered_at(rng, now)
    on = registered_at.astimezone(clock.TZ).date()

    # where it enters
    tier_weights = {"village": 72, "township": 20, "county": 8}
    if dtype in INDUSTRY:
        tier_weights = {"village": 35, "township": 25, "county": 40}
    entry_tier = _weighted(rng, tier_weights)
    if entry_tier == "village":
        holder = directory.village_org(village)
    elif entry_tier == "township":
        holder = directory.township_org(village)
    elif dtype in INDUSTRY and rng.random() < 0.8:
        holder = directory.orgs[f"industry:{dtype}"]
    else:
        holder = directory.orgs["center"]
    entry = holder
    source = _weighted(rng, SOURCE_WEIGHTS[entry_tier])

    # who
    place = village.name
    address = f"{COUNTY_NAME}{village.township_name}{village.name}{rng.randint(1, 12)}组"
    a_name = person_name(rng)
    b_name = person_name(rng)
    while b_name == a_name:
        b_name = person_name(rng)
    parties = [_party(rng, "applicant", a_name, on=on, address=address)]
    org_resp = ORG_RESPONDENTS.get(dtype)
    n_parties = rng.choices((1, 2, 3, 4), weights=(5, 70, 18, 7))[0]
    if n_parties >= 2:
        if org_resp and rng.random() < org_resp[0]:
            b_name = rng.choice(org_resp[2]).format(w=rng.choice(COMPANY_WORDS), town=village.township_name)
            parties.append(NS(role="respondent", kind="organization", name=b_name,
                              id_number=credit_code(rng, org_resp[1]) if rng.random() < 0.6 else None,
                              phone=phone(rng) if rng.random() < 0.5 else None, address=None))
        else:
            parties.append(_party(rng, "respondent", b_name, on=on, address=address))
    for extra in range(n_parties - 2):
        role = "third_party" if (dtype == "traffic" or extra == 1) else rng.choice(("applicant", "respondent"))
        if dtype == "traffic" and role == "third_party":
            parties.append(NS(role=role, kind="organization", name="中国人民财产保险股份有限公司南充市分公司",
                              id_number=None, phone=None, address=None))
        else:
            parties.append(_party(rng, role, person_name(rng), on=on, address=address))

    persons = len(parties)
    if rng.random() < GROUP_TYPES.get(dtype, 0.0):
        persons = rng.randint(5, 60)
    share, low, high = AMOUNTS[dtype]
    amount = _money(rng, low, high) if rng.random() < share else None
    if amount is not None and persons >= 5 and dtype in ("labor", "land_requisition"):
        amount = _money(rng, high // 4, high * 3)
    summary = rng.choice(SUMMARIES[dtype]).format(a=a_name, b=b_name, place=place)
    occurred_on = on - dt.timedelta(days=int(rng.expovariate(1 / 8)))

    registration = NS(org_id=holder.id, type=dtype, source=source, summary=summary, parties=parties,
                      region_code=village.code, registered_at=registered_at, occurred_on=occurred_on,
                      amount=amount, persons_involved=persons, deadline=None)

    # what happens
    steps: list[tuple[str, Any]] = []
    t = registered_at
    age = now - registered_at

    def later(lo_days: float, hi_days: float) -> dt.datetime:
        nonlocal t
        gap = dt.timedelta(days=rng.uniform(lo_days, hi_days))
        if rng.random() < 0.04:
            gap += dt.timedelta(days=rng.uniform(8, 25))   # a slow case
        day = (t + gap).astimezone(clock.TZ).date()
        cand = _business_time(rng, day)
        t = max(cand, t + dt.timedelta(minutes=20))
        return t

    def session() -> None:
        at = later(0.0, 4.0)
        ids = rng.sample(holder.mediator_ids, k=min(len(holder.mediator_ids), rng.choice((1, 1, 2, 2, 3))))
        steps.append(("sessions", NS(held_at=at, method=rng.choices(("onsite", "phone", "online"), (72, 20, 8))[0],
                                     mediator_ids=ids, summary=rng.choice(SESSION_NOTES))))

    def move(action: str, to: OrgRef, reason: str) -> None:
        nonlocal holder
        steps.append((action, NS(to_org_id=to.id, reason=reason, at=later(0.3, 3.0))))
        holder = to

    # a few older cases are stuck (open past the deadline); most recent ones are still going
    stuck = (dt.timedelta(days=31) < age < dt.timedelta(days=120) and rng.random() < 0.03) or \
        (age < dt.timedelta(days=24) and rng.random() < 0.65)

    roll = rng.random()
    if roll < 0.015:
        outcome = "rejected"
    elif roll < 0.045:
        outcome = "withdrawn"
    else:
        outcome = "mediate"

    if outcome == "rejected":
        steps.append(("reject", NS(reason=rng.choice(REJECT_REASONS), at=later(0.0, 2.0))))
    else:
        # the path up (or down)
        if holder.tier == "village" and rng.random() < 0.13:
            session()
            move("escalate", directory.township_org(village), rng.choice(ESCALATE_REASONS))
            if rng.random() < 0.2:
                session()
                move("escalate", directory.orgs["center"], rng.choice(ESCALATE_REASONS))
        elif holder.tier == "township" and rng.random() < 0.08:
            session()
            to = directory.orgs.get(f"industry:{dtype}") or directory.orgs["center"]
            move("escalate", to, rng.choice(ESCALATE_REASONS))
        elif holder.name == CENTER_NAME and source in ("hotline", "petition", "agency") and rng.random() < 0.4:
            target = directory.township_org(village) if rng.random() < 0.6 else directory.village_org(village)
            move("assign", target, rng.choice(ASSIGN_REASONS))
        climbed = any(a == "escalate" for a, _ in steps)
        for _ in range(rng.choices((1, 2, 3), weights=(55, 32, 13))[0]):
            session()
        if outcome == "withdrawn":
            steps.append(("withdraw", NS(reason=rng.choice(WITHDRAW_REASONS), at=later(0.0, 2.0))))
        elif rng.random() < (0.22 if climbed else 0.05):
            channel = rng.choices(("litigation", "arbitration", "administrative", "none"),
                                  weights=(50, 25 if dtype == "labor" else 3, 12, 15))[0]
            steps.append(("fail", NS(reason=rng.choice(FAIL_REASONS), channel=channel, at=later(0.0, 1.0))))
        else:
            signed = later(0.0, 0.05)
            written = rng.random() < (0.92 if amount is not None else 0.55)
            agreed = None
            if amount is not None:
                agreed = (amount * Decimal(rng.uniform(0.5, 1.0))).quantize(Decimal("1")).quantize(Decimal("0.01"))
            due = (signed + dt.timedelta(days=rng.randint(7, 60))).astimezone(clock.TZ).date() if agreed else None
            terms = (rng.choice(TERMS_MONEY).format(a=a_name, b=b_name, amount=agreed, due=due) if agreed
                     else rng.choice(TERMS_PLAIN).format(a=a_name, b=b_name))
            prevented: list[str] = []
            if rng.random() < 0.04 and dtype in ("neighbor", "damages", "marriage_family", "land_forest",
                                                 "housing_homestead"):
                prevented.append("criminal")
            if persons >= 5 and rng.random() < 0.35:
                prevented.append("group_petition")
            if dtype == "marriage_family" and rng.random() < 0.01:
                prevented.append("suicide")
            if persons >= 5 and dtype == "land_forest" and rng.random() < 0.2:
                prevented.append("group_fight")
            steps.append(("resolve", NS(agreement=NS(form="written" if written else "oral", terms=terms,
                                                     signed_at=signed, amount=agreed, performance_due=due),
                                        prevented=prevented)))
            if due is not None and rng.random() < 0.65:
                checked = _business_time(rng, due + dt.timedelta(days=rng.randint(0, 10)))
                if checked > t:
                    t = checked
                    steps.append(("performance", NS(
                        status=rng.choices(("performed", "partial", "breached"), weights=(86, 9, 5))[0],
                        checked_at=checked)))
        if steps[-1][0] in ("resolve", "performance", "fail", "withdraw") and rng.random() < 0.3:
            steps.append(("visit", NS(satisfaction=rng.choices(
                ("satisfied", "basically_satisfied", "dissatisfied"), weights=(80, 17, 3))[0], at=later(3, 20))))

    # nothing after now (or the last hour) has happened yet; stuck cases stop before concluding
    horizon = now - dt.timedelta(minutes=1)
    kept = []
    for action, data in steps:
        at = data.held_at if action == "sessions" else (
            data.agreement.signed_at if action == "resolve" else (
                data.checked_at if action == "performance" else data.at))
        if at > horizon:
            break
        if stuck and action not in ("sessions", "escalate", "assign"):
            break
        kept.append((action, data))
    return Plan(index=index, registration=registration, steps=kept, entry_org=entry)


# ---------------------------------------------------------------- loading

async def _gather_limited(items, work, *, limit: int, progress: Progress, label: str) -> None:
    total = len(items)
    done = 0
    queue: asyncio.Queue = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    failed: list[BaseException] = []

    async def worker() -> None:
        nonlocal done
        while not failed:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                await work(item)
            except Exception as e:     # stop everyone after their current item; raise the first
                failed.append(e)
                return
            done += 1
            if progress:
                progress(done, total, label)

    await asyncio.gather(*(worker() for _ in range(min(limit, total) or 1)))
    if failed:
        raise failed[0]


async def _count(sql: str, *args) -> int:
    async with db.connection() as conn:
        return await conn.fetchval(sql, *args)


async def _ensure_regions(vills: list[Village]) -> int:
    """Import the county from the shipped files and add the generated villages; returns
    how many regions were new."""
    async with db.connection() as conn:
        have = {r["code"] for r in await conn.fetch(
            "SELECT code FROM regions WHERE code LIKE $1 OR code IN ($2, $3)",
            COUNTY + "%", COUNTY[:2] + "0" * 10, COUNTY[:4] + "0" * 8)}
    wanted = {COUNTY[:2] + "0" * 10, COUNTY[:4] + "0" * 8, COUNTY12, *(c for c, _ in township_rows())}
    if not wanted <= have:
        await regions.import_county(COUNTY)
    missing = [(v.code, v.name, "village") for v in vills if v.code not in have]
    if missing:
        await regions.import_rows(missing)
    return len(wanted - have) + len(missing)


async def _ensure_orgs(specs: list[OrgSpec], progress: Progress) -> tuple[int, int]:
    """Create the committees that are missing and give the new ones their mediators."""
    async with db.connection() as conn:
        rows = await conn.fetch(
            """SELECT o.id, o.name, o.region_code, EXISTS (SELECT 1 FROM mediators m WHERE m.org_id = o.id AND m.active)
                      AS staffed
               FROM orgs o WHERE o.county_code = $1""", COUNTY)
    existing = {(r["name"], r["region_code"]): r for r in rows}
    todo = [s for s in specs if (s.name, s.region_code) not in existing
            or not existing[(s.name, s.region_code)]["staffed"]]
    created_orgs = created_mediators = 0

    async def create(spec: OrgSpec) -> None:
        nonlocal created_orgs, created_mediators
        found = existing.get((spec.name, spec.region_code))
        if found is None:
            org_id = (await orgs.create_org(PRINCIPAL, name=spec.name, tier=spec.tier, kind=spec.kind,
                                            region_code=spec.region_code))["id"]
            created_orgs += 1
        else:
            org_id = found["id"]     # there, but nobody to mediate (an interrupted load)
        for name, tel in mediator_specs(spec):
            await orgs.add_mediator(PRINCIPAL, org_id, name=name, phone=tel)
            created_mediators += 1

    await _gather_limited(todo, create, limit=CONCURRENCY, progress=progress, label="调解组织")
    return created_orgs, created_mediators


async def directory(scale: float = 1.0) -> Directory:
    """The demo's organisations and their active mediators, as loaded."""
    vills = villages(scale)
    specs = org_specs(vills)
    async with db.connection() as conn:
        rows = await conn.fetch(
            """SELECT o.id, o.name, o.tier, o.region_code,
                      coalesce(array_agg(m.id ORDER BY m.name, m.id) FILTER (WHERE m.active), '{}') AS mediators
               FROM orgs o LEFT JOIN mediators m ON m.org_id = o.id
               WHERE o.county_code = $1 GROUP BY o.id ORDER BY o.created_at, o.id""", COUNTY)
    by_key = {(r["name"], r["region_code"]): r for r in rows}
    d = Directory(villages=vills)
    for s in specs:
        r = by_key.get((s.name, s.region_code))
        if r is not None and r["mediators"]:
            d.orgs[s.key] = OrgRef(id=r["id"], name=r["name"], tier=r["tier"], mediator_ids=tuple(r["mediators"]))
    return d


async def _run_plan(plan: Plan) -> None:
    created = await disputes.register(PRINCIPAL, plan.registration)
    for action, data in plan.steps:
        await disputes.transition(PRINCIPAL, created.id, action, data)


async def _summary(prefix: str) -> str:
    async with db.connection() as conn:
        r = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM regions WHERE code LIKE $1 AND level = 'township') AS townships,
                      (SELECT count(*) FROM regions WHERE code LIKE $1 AND level = 'village') AS villages,
                      (SELECT count(*) FROM orgs WHERE county_code = $2) AS orgs,
                      (SELECT count(*) FROM mediators m JOIN orgs o ON o.id = m.org_id
                        WHERE o.county_code = $2) AS mediators,
                      (SELECT count(*) FROM disputes WHERE county_code = $2) AS disputes""",
            COUNTY + "%", COUNTY)
    return (f"{prefix}{COUNTY_NAME} {COUNTY}: {r['townships']} 乡镇(街道), {r['villages']} 村(社区), "
            f"{r['orgs']} 调解组织, {r['mediators']} 调解员, {r['disputes']} 件纠纷")


async def load(progress: Progress = None, *, scale: float = 1.0) -> str:
    """Load the demo county; a second call changes nothing and says so. `scale` (0 < scale
    ≤ 1) shrinks the villages and disputes for quick tests."""
    if not 0 < scale <= 1:
        raise ValueError("scale must be in (0, 1]")
    vills = villages(scale)
    new_regions = await _ensure_regions(vills)
    if progress:
        progress(1, 1, "行政区划")
    new_orgs, new_mediators = await _ensure_orgs(org_specs(vills), progress)

    new_disputes = 0
    if not await _count("SELECT count(*) FROM disputes WHERE county_code = $1", COUNTY):
        d = await directory(scale)
        now = clock.now()
        plans = [plan_dispute(i, d, now) for i in range(max(1, round(DISPUTES_FULL * scale)))]
        plans.sort(key=lambda p: p.registration.registered_at)   # case numbers roughly in time order
        await _gather_limited(plans, _run_plan, limit=CONCURRENCY, progress=progress, label="纠纷")
        new_disputes = len(plans)

    if not (new_regions or new_orgs or new_mediators or new_disputes):
        return await _summary("demo already loaded, nothing changed: ")
    return await _summary(f"demo loaded ({new_regions} regions, {new_orgs} orgs, {new_mediators} mediators, "
                          f"{new_disputes} disputes new): ")


async def load_if_empty(progress: Progress = None, *, scale: float = 1.0) -> str | None:
    """Load the demo only into a database without any dispute (`tiaojie serve --demo`)."""
    if await _count("SELECT EXISTS (SELECT 1 FROM disputes)"):
        return None
    return await load(progress, scale=scale)
