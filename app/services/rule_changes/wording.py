"""Rules in plain Chinese words: the differences a proposal lists, and the age-group text the plan
pages (plans.py) share."""
from __future__ import annotations

from ..money import fen_to_yuan_text


def age_group_text(group: dict) -> str:
    """How old one must be to join in an eligibility group: 出生30天至17周岁, 18周岁至50周岁."""
    low = group["min_age"]
    low_text = f"出生{low['days']}天" if "days" in low else f"{low['years']}周岁"
    return f"{low_text}至{group['max_age_years']}周岁"


# --- differences in plain words ------------------------------------------------------------
def _yuan(fen: int) -> str:
    return fen_to_yuan_text(fen)


def _fee_text(bp: int) -> str:
    return "不从互助资金中收取" if bp == 0 else f"分摊金额的{bp // 100}.{bp % 100:02d}%"


def _ages_text(rules: dict) -> str:
    return "；".join(f"{g['label']}（加入时{age_group_text(g)}）" for g in rules["eligibility"])


def _aid_table_text(rules: dict) -> str:
    return "；".join(f"{item['name']}最高{_yuan(item['max_aid_fen'])}" for item in rules["aid_table"])


def _aid_table_change(before: dict, after: dict) -> str:
    old = {i["code"]: i for i in before["aid_table"]}
    new = {i["code"]: i for i in after["aid_table"]}
    parts = []
    for code, item in new.items():
        if code not in old:
            parts.append(f"新增「{item['name']}」，最高{_yuan(item['max_aid_fen'])}")
        elif old[code] != item:
            was = old[code]
            name = item["name"] if item["name"] == was["name"] else f"{was['name']}（改称{item['name']}）"
            parts.append(f"「{name}」最高互助金由{_yuan(was['max_aid_fen'])}改为{_yuan(item['max_aid_fen'])}"
                         if was["max_aid_fen"] != item["max_aid_fen"] else f"「{name}」的说明有变")
    parts += [f"取消「{item['name']}」" for code, item in old.items() if code not in new]
    return "互助金标准：" + "；".join(parts)


def _list_text(items: list) -> str:
    return "、".join(str(i) for i in items) or "无"


# (field, the rules key(s) compared, label, before/after text, change sentence or None for "X由A改为B")
_FIELDS = (
    ("share_cap_fen", ("share_cap_fen",), "每案分摊上限", lambda r: f"每人每个案例最多分摊{_yuan(r['share_cap_fen'])}", None),
    ("fee_bps", ("management_fee_bp",), "管理费", lambda r: _fee_text(r["management_fee_bp"]), None),
    ("ages", ("eligibility", "eligibility_questions"), "可加入的人和年龄", _ages_text, None),
    ("aid_table", ("aid_table",), "互助金标准", _aid_table_text, _aid_table_change),
    ("observation_days", ("observation_days",), "观察期", lambda r: f"{r['observation_days']}天", None),
    ("max_aid_fen", ("max_aid_fen",), "最高互助金", lambda r: _yuan(r["max_aid_fen"]), None),
    ("min_prepay_fen", ("min_prepay_fen",), "加入时最低预存", lambda r: _yuan(r["min_prepay_fen"]), None),
    ("covered_incidents", ("covered_incidents",), "保障范围",
     lambda r: _list_text([{"illness": "重大疾病", "accident": "公共交通及旅游意外"}.get(i, i)
                           for i in r["covered_incidents"]]), None),
    ("exclusions", ("exclusions",), "不保障的情形", lambda r: _list_text(r["exclusions"]), None),
    ("health_questions", ("health_questions",), "健康告知",
     lambda r: _list_text([q["text"] for q in r["health_questions"]]), None),
    ("name", ("name",), "计划名称", lambda r: r["name"], None),
    ("summary", ("summary",), "计划简介", lambda r: r["summary"], None),
)


def differences(before: dict, after: dict) -> list[dict]:
    """Each changed rule: {field, label, before_text, after_text, text} in plain Chinese words."""
    found = []
    for name, keys, label, describe, sentence in _FIELDS:
        if all(before.get(k) == after.get(k) for k in keys):
            continue
        was, becomes = describe(before), describe(after)
        text = sentence(before, after) if sentence else f"{label}由“{was}”改为“{becomes}”"
        found.append({"field": name, "label": label, "before_text": was, "after_text": becomes, "text": text})
    return found
