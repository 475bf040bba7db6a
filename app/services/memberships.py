"""Memberships: joining with every rule of domain.md, the state machine, and crediting."""
from __future__ import annotations

import datetime as dt
import re
import secrets
import weakref
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Boolean, and_, bindparam, column, exists, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import (ACTIVE_STATES, OPEN_CLAIM_STATUSES, RELATIONS, Account, BalanceReturn, Claim, Membership,
                        Plan, PlanVersion)

from . import consents, events, ledger, membership_secrets
from .wind_down import guards as closing
from .clock import china_date
from .errors import Conflict, InvalidRequest, NotFound
from .idcard import age_on, parse_id_number
from .pii import PiiProtector, mask_id_number, mask_name
from .plans import get_plan
from .unit_of_work import atomic, one_statement_read

_NAME = re.compile(r"^[\u4e00-\u9fffA-Za-z·• ]{2,30}$")
TOPUP_REASON = "topup"


@dataclass(frozen=True)
class JoinRequest:
    plan_code: str
    person_name: str
    id_number: str
    relation: str
    answers: dict[str, bool]
    # The payer's consents, as ticked (consents.for_join(policy) when collected elsewhere).
    consent: consents.ConsentGiven | None = None


def _eligible_group(rules: dict, age_years: int, age_days: int, sex: str, answers: dict[str, bool]) -> dict | None:
    for group in rules["eligibility"]:
        low = group["min_age"]
        old_enough = age_days >= low["days"] if "days" in low else age_years >= low["years"]
        if not old_enough or age_years > group["max_age_years"]:
            continue
        if group.get("sex") and group["sex"] != sex:
            continue
        if not all(answers.get(key) is True for key in group.get("required_answers", [])):
            continue
        return group
    return None


def _check_answers(rules: dict, answers: dict[str, bool]) -> None:
    health = {q["key"]: q for q in rules["health_questions"]}
    eligibility = {q["key"]: q for q in rules["eligibility_questions"]}
    unknown = sorted(set(answers) - set(health) - set(eligibility))
    if unknown:
        raise InvalidRequest("健康告知中有本计划没有的问题", code="unknown_declaration_question",
                             details={"questions": unknown})
    unanswered = [key for key in health if key not in answers]
    if unanswered:
        raise InvalidRequest("请回答全部健康告知问题", code="declaration_incomplete",
                             details={"questions": unanswered})
    for key, question in health.items():
        if answers[key] is True:
            raise InvalidRequest(
                f"根据健康告知，被保障人暂不能加入：{question['text']}",
                code="health_declaration_refused", details={"question": key},
            )


def valid_person_name(name: str | None) -> str:
    name = (name or "").strip()
    if not _NAME.match(name):
        raise InvalidRequest("请填写被保障人的真实姓名（2至30个汉字或字母）", code="person_name_invalid")
    return name


def join(session: Session, pii: PiiProtector, *, user_id: int, request: JoinRequest, now: dt.datetime,
         policy: consents.PrivacyPolicy) -> Membership:
    """Create a pending membership (it becomes observing when the minimum prepay is credited).

    Refused (403) without the payer's consent to `policy` and, separately, to processing the covered
    person's ID number and health answers; both are recorded with the membership."""
    consents.require(policy, request.consent, consents.JOIN_SCOPES)
    if request.relation not in RELATIONS:
        raise InvalidRequest("与本人关系只能是本人、子女、父母或配偶", code="relation_invalid")
    name = valid_person_name(request.person_name)
    facts = parse_id_number(request.id_number)
    with atomic(session):
        plan, version = get_plan(session, request.plan_code)
        closing.check_joins_open(session, plan.id)  # 409 plan_closing
        rules = version.rules
        _check_answers(rules, request.answers)
        today = china_date(now)
        if facts.birth_date > today:
            raise InvalidRequest("身份证号码中的出生日期晚于今天", code="id_number_birth_date")
        years, days = age_on(facts.birth_date, today)
        group = _eligible_group(rules, years, days, facts.sex, request.answers)
        if group is None:
            allowed = "；".join(g["label"] for g in rules["eligibility"])
            raise InvalidRequest(
                f"{rules['name']}仅限{allowed}加入，被保障人今年{years}周岁，不符合加入条件",
                code="not_eligible", details={"age_years": years, "plan_code": plan.code},
            )
        id_hash = pii.lookup_hash(facts.id_number)
        duplicate = session.execute(
            select(Membership.id).where(
                # every configured hash key: during a hash-key rotation rows carry either
                Membership.plan_id == plan.id, Membership.person_id_hash.in_(pii.lookup_hashes(facts.id_number)),
                Membership.state.in_(ACTIVE_STATES),
            )
        ).first()
        if duplicate:
            raise Conflict("此人已经加入了这个互助计划，同一人在同一计划中只能有一份", code="already_member")
        membership = Membership(
            user_id=user_id, plan_id=plan.id, plan_version_id=version.id, relation=request.relation,
            person_name_encrypted=pii.encrypt(name), person_name_masked=mask_name(name),
            person_id_encrypted=pii.encrypt(facts.id_number), person_id_hash=id_hash,
            person_id_hash_key=pii.hash_key_id,
            person_id_masked=mask_id_number(facts.id_number), birth_date=facts.birth_date, sex=facts.sex,
            eligibility_group=group["label"], declaration=dict(request.answers), state="pending",
            joined_at=now, state_changed_at=now, sponsor_token=secrets.token_urlsafe(16),
        )
        session.add(membership)
        try:
            session.flush()
        except IntegrityError:
            # Lost a race with a concurrent join of the same person: the unique index decided.
            raise Conflict("此人已经加入了这个互助计划，同一人在同一计划中只能有一份", code="already_member") from None
        ledger.ensure_account(session, code=ledger.member_account_code(membership.id), kind="member",
                              now=now, plan_id=plan.id, membership_id=membership.id)
        membership_secrets.create_secret(session, membership.id)  # its pseudonym's key in the runs' trees
        consents.record(session, user_id=user_id, scopes=consents.JOIN_SCOPES, policy_version=policy.version,
                        membership_id=membership.id, now=now)
    return membership


@dataclass(frozen=True)
class MembershipView:
    membership: Membership  # or, from own_view, a row with the same attribute names (read-only)
    plan_code: str
    plan_name: str
    plan_version: int
    rules: dict
    balance_fen: int
    # From own_view: whether a balance return exists (its view is read only then). None: not looked up.
    has_balance_return: bool | None = None


def views_where(session: Session, *conditions, limit: int | None = None) -> list[MembershipView]:
    rows = session.execute(
        select(Membership, Plan.code, Plan.name, PlanVersion.version, PlanVersion.rules, Account.balance_fen)
        .join(Plan, Plan.id == Membership.plan_id)
        .join(PlanVersion, PlanVersion.id == Membership.plan_version_id)
        .join(Account, Account.membership_id == Membership.id)
        .where(*conditions)
        .order_by(Membership.id)
        .limit(limit)
    ).all()
    return [MembershipView(*row) for row in rows]


def list_for_user(session: Session, user_id: int) -> list[MembershipView]:
    return views_where(session, Membership.user_id == user_id)


_memberships = Membership.__table__
# GET /memberships/{id} on every visit of the member's page: built once (building and keying a statement
# per request was a third of its CPU, profiled), only the columns the page shows (no ORM object, no
# declaration document or encrypted PII on the wire), the balance return's existence in the same
# statement, run by one_statement_read (no BEGIN/ROLLBACK round trips). The plan version (number and
# rules) comes from _versions: versions are immutable, so a join fewer and no 1.5 KB rules document per
# request. On PostgreSQL the same SELECT runs inside the function membership_own_view (migration 0024),
# whose plan the server keeps per connection: planning it was three times the cost of running it.
_OWN_VIEW_MEMBER_COLUMNS = ("id", "plan_version_id", "relation", "person_name_masked", "person_id_masked",
                            "birth_date", "sex", "eligibility_group", "state", "joined_at", "observation_starts_at",
                            "observation_ends_at", "protected_at", "suspended_at", "grace_ends_at", "ended_at",
                            "sponsor_token")
_OWN_VIEW_COLUMNS = (*(_memberships.c[name] for name in _OWN_VIEW_MEMBER_COLUMNS), Plan.__table__.c.code,
                     Plan.__table__.c.name, Account.__table__.c.balance_fen,
                     exists().where(BalanceReturn.__table__.c.membership_id == _memberships.c.id)
                     .label("has_balance_return"))
_OWN_VIEW = (
    select(*_OWN_VIEW_COLUMNS)
    .join(Plan.__table__, Plan.__table__.c.id == _memberships.c.plan_id)
    .join(Account.__table__, Account.__table__.c.membership_id == _memberships.c.id)
    .where(_memberships.c.id == bindparam("membership_id"), _memberships.c.user_id == bindparam("user_id"))
)
# The function's result columns are typed as the table's, so datetimes come back as UTCDateTime gives them.
_OWN_VIEW_FUNCTION = text("SELECT * FROM membership_own_view(:membership_id, :user_id)").columns(
    *(_memberships.c[name] for name in _OWN_VIEW_MEMBER_COLUMNS), Plan.__table__.c.code, Plan.__table__.c.name,
    Account.__table__.c.balance_fen, column("has_balance_return", Boolean))
_VERSION = select(PlanVersion.__table__.c.version, PlanVersion.__table__.c.rules).where(
    PlanVersion.__table__.c.id == bindparam("version_id"))


class _Versions:
    """Plan versions by id, per engine (per app and database): a plan_versions row never changes once
    written (a rule change adds a version), so what was read once stays true for that database. A
    handful of entries per plan; a new engine (a new app, a test's fresh database) starts empty."""

    def __init__(self) -> None:
        self._by_engine: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(self, session: Session, version_id: int) -> tuple[int, dict]:
        known = self._by_engine.setdefault(session.get_bind(), {})
        found = known.get(version_id)
        if found is None:
            with one_statement_read(session):
                row = session.execute(_VERSION, {"version_id": version_id}).one()
            found = known[version_id] = (row.version, row.rules)
        return found


_versions = _Versions()


def own_view(session: Session, user_id: int, membership_id: int) -> MembershipView:
    """get_for_user in one statement without a transaction around it: the member's page."""
    statement = _OWN_VIEW_FUNCTION if session.get_bind().dialect.name == "postgresql" else _OWN_VIEW
    with one_statement_read(session):
        row = session.execute(statement, {"membership_id": membership_id, "user_id": user_id}).first()
    if row is None:
        raise NotFound("没有找到这份互助", code="membership_not_found")
    version, rules = _versions.get(session, row.plan_version_id)
    return MembershipView(row, row.code, row.name, version, rules, row.balance_fen,
                          has_balance_return=bool(row.has_balance_return))


def get_for_user(session: Session, user_id: int, membership_id: int) -> MembershipView:
    """Another user's membership is indistinguishable from a missing one."""
    found = views_where(session, Membership.id == membership_id, Membership.user_id == user_id)
    if not found:
        raise NotFound("没有找到这份互助", code="membership_not_found")
    return found[0]


def member_account_id(session: Session, membership_id: int) -> int:
    found = session.execute(select(Account.id).where(Account.membership_id == membership_id)).scalar_one_or_none()
    if found is None:
        raise NotFound("没有找到这份互助", code="membership_not_found")
    return found


def apply_credit_effects(session: Session, membership_id: int, now: dt.datetime) -> None:
    """State changes a credit may cause, as atomic conditional updates (no read-modify-write):
    pending → observing once the balance reaches the minimum prepay (the observation clock
    starts), and suspended → its earlier state when topped up within the grace period."""
    row = session.execute(
        select(PlanVersion.rules, Account.balance_fen)
        .join(Membership, Membership.plan_version_id == PlanVersion.id)
        .join(Account, Account.membership_id == Membership.id)
        .where(Membership.id == membership_id)
    ).one()
    min_prepay = row.rules["min_prepay_fen"]
    observation = dt.timedelta(days=row.rules["observation_days"])
    balance_ok = select(Account.balance_fen).where(Account.membership_id == membership_id).scalar_subquery() >= min_prepay
    started = session.execute(
        update(Membership)
        .where(Membership.id == membership_id, Membership.state == "pending", balance_ok)
        .values(state="observing", observation_starts_at=now, observation_ends_at=now + observation,
                state_changed_at=now)
        .returning(Membership.user_id, Membership.plan_id)
    ).first()
    if started:
        events.record(session, "membership.observing", now=now, user_id=started.user_id, plan_id=started.plan_id,
                      membership_id=membership_id, payload={"observation_ends_at": (now + observation).isoformat()})
    resumed = session.execute(
        update(Membership)
        .where(Membership.id == membership_id, Membership.state == "suspended",
               Membership.grace_ends_at > now, balance_ok)
        .values(state=Membership.state_before_suspension, state_before_suspension=None,
                suspended_at=None, grace_ends_at=None, coverage_resumed_at=now, state_changed_at=now)
        .returning(Membership.user_id, Membership.plan_id, Membership.state)
    ).first()
    if resumed:
        events.record(session, "membership.resumed", now=now, user_id=resumed.user_id, plan_id=resumed.plan_id,
                      membership_id=membership_id, payload={"state": resumed.state})


def credit(
    session: Session,
    *,
    membership_id: int,
    amount_fen: int,
    idempotency_key: str,
    now: dt.datetime,
    source_account_code: str = "system:wechat_pay_in",
    reason: str = TOPUP_REASON,
    reference_type: str | None = None,
    reference_id: str | None = None,
    initiated_by_user_id: int | None = None,
) -> ledger.PostedTransaction:
    """Credit a membership's balance (inside the caller's transaction) and apply its state effects.

    The entry point for top-ups: exactly once per idempotency key."""
    if type(amount_fen) is not int or amount_fen <= 0:
        raise InvalidRequest("充值金额必须是正整数（分）", code="amount_invalid")
    member_account = member_account_id(session, membership_id)
    source = ledger.account_id(session, source_account_code)
    posted = ledger.post_transaction(
        session, idempotency_key=idempotency_key, reason=reason,
        legs=[ledger.Leg(member_account, amount_fen), ledger.Leg(source, -amount_fen)],
        now=now, reference_type=reference_type, reference_id=reference_id,
        initiated_by_user_id=initiated_by_user_id,
    )
    if not posted.replayed:
        apply_credit_effects(session, membership_id, now)
    return posted


@dataclass(frozen=True)
class AdvanceResult:
    protected: int
    lapsed: int


def advance(session: Session, now: dt.datetime) -> AdvanceResult:
    """Observation over → protected; suspension grace over → lapsed. Set-based; safe to run twice."""
    with atomic(session):
        protected = session.execute(
            update(Membership)
            .where(Membership.state == "observing", Membership.observation_ends_at <= now)
            .values(state="protected", protected_at=Membership.observation_ends_at, state_changed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        lapsed = session.execute(
            update(Membership)
            .where(and_(Membership.state == "suspended", Membership.grace_ends_at <= now))
            .values(state="lapsed", ended_at=now, state_changed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        # One event per batch: subscribers select the batch by (state, state_changed_at = now).
        if protected:
            events.record(session, "memberships.protected", now=now, payload={"count": protected})
        if lapsed:
            events.record(session, "memberships.lapsed", now=now, payload={"count": lapsed})
    return AdvanceResult(protected=protected, lapsed=lapsed)


# --- leaving ------------------------------------------------------------------------------------
# A guard answers "may this membership leave now?": a refusal message for the member, or None.
# An open apportionment run does not refuse leaving: the share owed to it is withheld
# (apportionment.withhold_share) and only the rest is refunded.
LeaveGuard = Callable[[Session, int], "str | None"]


def _no_open_claim(session: Session, membership_id: int) -> str | None:
    open_claim = session.execute(
        select(Claim.id).where(Claim.membership_id == membership_id, Claim.status.in_(OPEN_CLAIM_STATUSES)).limit(1)
    ).first()
    if open_claim:
        return "这份互助还有尚未办结的互助申请，办结后才能退出"
    return None


LEAVE_GUARDS: list[LeaveGuard] = [_no_open_claim]


def check_leave_guards(session: Session, membership_id: int) -> None:
    """Raises Conflict (code leave_refused) with the first guard's message."""
    for guard in LEAVE_GUARDS:
        refusal = guard(session, membership_id)
        if refusal:
            raise Conflict(refusal, code="leave_refused", details={"guard": getattr(guard, "__name__", "guard")})
