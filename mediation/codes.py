"""Every code of the public contract with its Chinese label, in one place.

The database CHECK constraints (migrations/) and the API validation both follow these.
"""

from __future__ import annotations

TIERS: dict[str, str] = {"village": "村(社区)", "township": "乡镇(街道)", "county": "县(区)"}
TIER_RANK: dict[str, int] = {"village": 1, "township": 2, "county": 3}

ORG_KINDS: dict[str, str] = {
    "village_committee": "村(居)人民调解委员会",
    "township_committee": "乡镇(街道)人民调解委员会",
    "county_center": "县级矛盾纠纷多元化解中心",
    "industry_committee": "行业性专业性人民调解委员会",
    "other": "其他调解组织",
}
#: which tiers each org kind may sit at
ORG_KIND_TIERS: dict[str, tuple[str, ...]] = {
    "village_committee": ("village",),
    "township_committee": ("township",),
    "county_center": ("county",),
    "industry_committee": ("township", "county"),
    "other": ("village", "township", "county"),
}

REGION_LEVELS: dict[str, str] = {
    "province": "省",
    "city": "市",
    "county": "县(区)",
    "township": "乡镇(街道)",
    "village": "村(社区)",
}
#: digits of the 12-digit code that identify a region of each level
LEVEL_PREFIX_LENGTH: dict[str, int] = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}
#: the region level an org of each tier sits in
TIER_REGION_LEVEL: dict[str, str] = {"village": "village", "township": "township", "county": "county"}

DISPUTE_TYPES: dict[str, str] = {
    "marriage_family": "婚姻家庭",
    "neighbor": "邻里",
    "housing_homestead": "房屋宅基地",
    "contract": "合同",
    "production_business": "生产经营",
    "damages": "损害赔偿",
    "land_forest": "山林土地",
    "land_requisition": "征地拆迁",
    "environment": "环境污染",
    "labor": "劳动争议(含欠薪)",
    "consumer": "消费",
    "medical": "医疗",
    "traffic": "道路交通事故",
    "property_management": "物业",
    "other": "其它",
}

SOURCES: dict[str, str] = {
    "application": "当事人申请",
    "screening": "主动排查",
    "court_entrusted": "法院委派/委托",
    "petition": "信访转办",
    "police": "公安移送",
    "hotline": "12345转办",
    "agency": "其他部门移交",
}

STATUSES: dict[str, str] = {
    "open": "调解中",
    "resolved": "调解成功",
    "failed": "调解不成",
    "referred": "已引导诉讼",
    "returned": "退回法院",
    "withdrawn": "撤回/终止",
    "rejected": "不予受理",
}
TERMINAL_STATUSES = frozenset(STATUSES) - {"open"}
MEDIATED_STATUSES = frozenset({"resolved", "failed", "referred", "returned"})

PARTY_ROLES: dict[str, str] = {"applicant": "申请人", "respondent": "被申请人", "third_party": "第三人"}
PARTY_KINDS: dict[str, str] = {"person": "自然人", "organization": "法人或其他组织"}

AGREEMENT_FORMS: dict[str, str] = {"written": "书面协议", "oral": "口头协议"}
PERFORMANCE: dict[str, str] = {"pending": "待履行", "performed": "已履行", "partial": "部分履行", "breached": "未履行"}
SESSION_METHODS: dict[str, str] = {"onsite": "现场调解", "phone": "电话调解", "online": "在线调解"}
FAIL_CHANNELS: dict[str, str] = {
    "arbitration": "仲裁",
    "administrative": "行政处理",
    "litigation": "诉讼",
    "none": "未选择",
}
PREVENTED: dict[str, str] = {
    "criminal": "防止民转刑",
    "group_petition": "防止群体性上访",
    "suicide": "防止自杀",
    "group_fight": "制止群体性械斗",
}
SATISFACTION: dict[str, str] = {
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "dissatisfied": "不满意",
}

EVENT_KINDS: dict[str, str] = {
    "registered": "登记受理",
    "session": "调解记录",
    "escalated": "上移",
    "assigned": "分流交办",
    "resolved": "调解成功",
    "failed": "调解不成",
    "referred": "引导诉讼",
    "returned": "退回法院",
    "withdrawn": "撤回/终止",
    "rejected": "不予受理",
    "performance": "履行情况",
    "visit": "回访",
    "confirmation_applied": "申请司法确认",
    "referral_acknowledged": "法院已接收",
    "referral_decided": "法院已决定",
    "entrusted": "法院委派/委托",
    "risk_assessed": "风险评估",
}

ROLES: dict[str, str] = {"admin": "管理员", "bureau": "司法局", "mediator": "调解员", "court": "法院"}

#: events after which an earlier business time may no longer be recorded
MOVE_EVENT_KINDS = frozenset(
    {"escalated", "assigned", "resolved", "failed", "referred", "withdrawn", "rejected", "returned"}
)
