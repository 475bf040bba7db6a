"""The plan catalogue: loading versioned rules from config/plans.toml and describing them."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.models import GOOD_STANDING, Account, Membership, Plan, PlanVersion

from . import ledger, rule_changes
from .errors import InvalidRequest, NotFound
from .money import fen_to_yuan_text
from .rule_changes.wording import age_group_text
from .unit_of_work import atomic

_RULE_KEYS = (
    "name", "summary", "covered_incidents", "observation_days", "max_aid_fen", "share_cap_fen",
    "min_prepay_fen", "management_fee_bp", "exclusions", "eligibility", "aid_table",
)


@dataclass(frozen=True)
class LoadResult:
    created_plans: list[str]
    new_versions: list[str]  # adopted at once: a plan without active memberships (nobody to ask)
    unchanged: list[str]
    proposals: list[str] = field(default_factory=list)  # changed rules put to the members (rule_changes)
    waiting: list[str] = field(default_factory=list)  # changed, but a change is pending or was rejected


def read_catalogue(path: str | Path) -> list[dict]:
    """Each plan's full rules (health and eligibility questions copied in, so a version is complete)."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    health = data.get("health_questions", [])
    eligibility_questions = {q["key"]: q for q in data.get("eligibility_questions", [])}
    plans = []
    for raw in data["plans"]:
        missing = [k for k in ("code", *_RULE_KEYS) if k not in raw]
        if missing:
            raise InvalidRequest(f"plan {raw.get('code')!r} lacks {missing}", code="catalogue_invalid")
        rules = {k: raw[k] for k in _RULE_KEYS}
        for key in ("max_aid_fen", "share_cap_fen", "min_prepay_fen", "observation_days", "management_fee_bp"):
            if type(rules[key]) is not int or rules[key] < 0:
                raise InvalidRequest(f"plan {raw['code']}: {key} must be a non-negative integer", code="catalogue_invalid")
        required = sorted({k for group in rules["eligibility"] for k in group.get("required_answers", [])})
        unknown = [k for k in required if k not in eligibility_questions]
        if unknown:
            raise InvalidRequest(f"plan {raw['code']}: unknown eligibility questions {unknown}", code="catalogue_invalid")
        rules["health_questions"] = health
        rules["eligibility_questions"] = [eligibility_questions[k] for k in required]
        plans.append({"code": raw["code"], "rules": rules})
    return plans


def _rules_hash(rules: dict) -> str:
    return hashlib.sha256(json.dumps(rules, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def load_catalogue(session: Session, path: str | Path, now: dt.datetime,
                   proposals: rule_changes.ProposalSettings | None = None) -> LoadResult:
    """Store each plan. A plan whose rules changed gets a new version, which becomes current only
    through a rule-change proposal the members pass (app/services/rule_changes/); a plan with no
    active membership adopts it at once. Safe to run again."""
    catalogue = read_catalogue(path)
    settings = proposals or rule_changes.ProposalSettings()
    result = LoadResult([], [], [])
    with atomic(session):
        ledger.ensure_system_accounts(session, now)
        for entry in catalogue:
            code, rules = entry["code"], entry["rules"]
            digest = _rules_hash(rules)
            plan = session.execute(select(Plan).where(Plan.code == code)).scalar_one_or_none()
            if plan is None:
                plan = Plan(code=code, name=rules["name"], created_at=now)
                session.add(plan)
                session.flush()
                result.created_plans.append(code)
            current = session.get(PlanVersion, plan.current_version_id) if plan.current_version_id else None
            store = functools.partial(_new_version, session, plan, now=now)
            if current is None:
                plan.current_version_id = store(rules, digest).id
            elif current.rules_sha256 == digest:
                result.unchanged.append(code)
            else:
                outcome, note = rule_changes.catalogue_change(session, plan, current, rules, digest, now, settings,
                                                              store)
                if outcome == "adopted":
                    result.new_versions.append(code)
                else:
                    (result.proposals if outcome == "proposed" else result.waiting).append(note)
            for kind in ledger.PLAN_ACCOUNT_KINDS:
                ledger.ensure_account(session, code=ledger.plan_account_code(code, kind), kind=kind,
                                      now=now, plan_id=plan.id)
    return result


def _new_version(session: Session, plan: Plan, rules: dict, digest: str, *, now: dt.datetime) -> PlanVersion:
    """A new immutable version row (not made current here)."""
    latest = session.execute(select(func.max(PlanVersion.version)).where(PlanVersion.plan_id == plan.id)).scalar()
    version = PlanVersion(plan_id=plan.id, version=(latest or 0) + 1, rules=rules, rules_sha256=digest,
                          summary=rules["summary"], created_at=now)
    session.add(version)
    session.flush()
    return version


def get_plan(session: Session, code: str) -> tuple[Plan, PlanVersion]:
    row = session.execute(
        select(Plan, PlanVersion).join(PlanVersion, PlanVersion.id == Plan.current_version_id).where(Plan.code == code)
    ).first()
    if row is None:
        raise NotFound("没有这个互助计划", code="plan_not_found", details={"plan_code": code})
    return row[0], row[1]


def member_counts(session: Session) -> dict[int, dict[str, int]]:
    """Per plan id: members in good standing, of whom observing and protected (one grouped query)."""
    rows = session.execute(
        select(
            Membership.plan_id,
            func.sum(case((Membership.state.in_(GOOD_STANDING), 1), else_=0)),
            func.sum(case((Membership.state == "observing", 1), else_=0)),
            func.sum(case((Membership.state == "protected", 1), else_=0)),
        ).group_by(Membership.plan_id)
    ).all()
    return {r[0]: {"members": int(r[1] or 0), "observing": int(r[2] or 0), "protected": int(r[3] or 0)} for r in rows}


def balances_held(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(Account.plan_id, func.sum(Account.balance_fen)).where(Account.kind == "member").group_by(Account.plan_id)
    ).all()
    return {r[0]: int(r[1] or 0) for r in rows}


def annual_cost_estimates(session: Session, now: dt.datetime, runs_per_year: int) -> dict[int, int]:
    """Per plan id: what a member who paid every run would pay in a year, from the plan's actual
    history: the mean share of the runs executed in the last 365 days × runs a year (the cadence).
    A plan with no executed run has no estimate yet (absent from the result)."""
    from app.models import ApportionmentRun

    rows = session.execute(
        select(ApportionmentRun.plan_id, func.sum(ApportionmentRun.share_fen), func.count())
        .where(ApportionmentRun.status == "executed", ApportionmentRun.executed_at > now - dt.timedelta(days=365))
        .group_by(ApportionmentRun.plan_id)
    ).all()
    return {plan_id: int(total) * runs_per_year // int(count) for plan_id, total, count in rows}


def aid_paid(session: Session) -> dict[int, int]:
    """Per plan id: aid transferred to claimants so far."""
    from app.models import Claim

    rows = session.execute(
        select(Claim.plan_id, func.sum(Claim.collected_aid_fen)).where(Claim.status == "paid").group_by(Claim.plan_id)
    ).all()
    return {r[0]: int(r[1] or 0) for r in rows}


def list_plans(session: Session) -> list[tuple[Plan, PlanVersion]]:
    return [
        (r[0], r[1]) for r in session.execute(
            select(Plan, PlanVersion).join(PlanVersion, PlanVersion.id == Plan.current_version_id).order_by(Plan.id)
        ).all()
    ]


def rules_in_plain_words(rules: dict) -> list[str]:
    words = []
    for group in rules["eligibility"]:
        words.append(f"可加入：{group['label']}（加入时{age_group_text(group)}）")
    incidents = {"illness": "重大疾病", "accident": "公共交通及旅游意外"}
    covered = "、".join(incidents.get(i, i) for i in rules["covered_incidents"])
    words.append(f"保障范围：{covered}")
    words.append(f"观察期：首次充值达到{fen_to_yuan_text(rules['min_prepay_fen'])}后{rules['observation_days']}天，观察期内发生的不在互助范围内")
    words.append(f"最高互助金：{fen_to_yuan_text(rules['max_aid_fen'])}")
    words.append(f"每次分摊：每人每个案例不超过{fen_to_yuan_text(rules['share_cap_fen'])}，余额不足时暂停保障、不欠款")
    words.append(f"加入门槛：预存至少{fen_to_yuan_text(rules['min_prepay_fen'])}")
    fee = rules["management_fee_bp"]
    words.append("管理费：不从互助资金中收取" if fee == 0 else f"管理费：分摊金额的{fee // 100}.{fee % 100:02d}%")
    for item in rules["exclusions"]:
        words.append(f"不保障：{item}")
    return words
