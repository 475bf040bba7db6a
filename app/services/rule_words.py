"""Pieces of a plan's rules in plain Chinese words, shared by the plan pages (plans.py) and the
differences a rule-change proposal lists (rule_changes.py)."""
from __future__ import annotations


def age_group_text(group: dict) -> str:
    """How old one must be to join in an eligibility group: 出生30天至17周岁, 18周岁至50周岁."""
    low = group["min_age"]
    low_text = f"出生{low['days']}天" if "days" in low else f"{low['years']}周岁"
    return f"{low_text}至{group['max_age_years']}周岁"
