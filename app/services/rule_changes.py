"""Rule changes with the members' consent (docs/rule-changes.md; domain.md, "Rule changes").

A changed plan in the catalogue never becomes a silently used version. `flask plans load` stores the
changed rules as a new plan_versions row that is NOT the plan's current version (nobody joins under
it, no membership holds it) and opens a proposal: the differences in plain words, a consent window,
an effective date and a notice period. Members answer once per membership, by its payer.

At the window's end (`close_due`, the scheduler and `flask proposals close`) the frozen tally decides:
passed when agree × denominator ≥ numerator × answered AND answered × 100 ≥ min turnout % × eligible
(eligible = memberships in an active state: those the change would bind; answers count while their
membership is active). On the effective date (`apply_due`) a passed proposal comes into force: in one
transaction every active membership of the plan moves to the new version (one UPDATE) and the plan's
current version becomes it. A failed proposal is archived; nothing changes. Every step is appended to
the audit chain and recorded as a domain event (the outbox pushes "proposal.opened" to the members).

A plan with no active membership has nobody to ask: its changed rules are adopted at once (audited)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import ACTIVE_STATES, ANSWERS, Membership, Plan, PlanVersion, RuleChangeAnswer, RuleChangeProposal

from . import audit_chain, events
from .clock import CHINA_TZ, china_date
from .errors import Conflict, InvalidRequest, NotFound
from .money import fen_to_yuan_text
from .rule_words import age_group_text
from .unit_of_work import atomic

PENDING_STATUSES = ("open", "passed")
TARGET = "rule_change"
AGREE_RATIO_WORDS = {(2, 3): "三分之二", (1, 2): "二分之一", (3, 4): "四分之三", (3, 5): "五分之三"}


# --- settings -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Quorum:
    agree_numerator: int = 2
    agree_denominator: int = 3
    min_turnout_percent: int = 10

    def __post_init__(self):
        if not (0 < self.agree_numerator <= self.agree_denominator) or not (0 <= self.min_turnout_percent <= 100):
            raise InvalidRequest("表决规则无效：同意比例须在0到1之间，最低答复比例在0到100之间", code="quorum_invalid")

    def passes(self, agree: int, answered: int, eligible: int) -> bool:
        """Passed: agree ≥ numerator/denominator of those who answered AND answered ≥ the minimum
        turnout of the eligible memberships (integer arithmetic; nobody answered → failed)."""
        return (answered > 0 and agree * self.agree_denominator >= self.agree_numerator * answered
                and answered * 100 >= self.min_turnout_percent * eligible)

    @property
    def agree_ratio_text(self) -> str:
        words = AGREE_RATIO_WORDS.get((self.agree_numerator, self.agree_denominator),
                                      f"{self.agree_denominator}分之{self.agree_numerator}")
        return f"同意者不少于答复者的{words}"


@dataclass(frozen=True)
class ProposalSettings:
    window_days: int = 14
    notice_days: int = 30
    quorum: Quorum = Quorum()
    quorum_by_plan: dict = field(default_factory=dict)  # plan code → Quorum
    effective_on: dt.date | None = None  # default: the window's last day + notice_days
    operator_id: int | None = None  # who put the change to the members (None: the CLI)

    @classmethod
    def from_config(cls, config, *, window_days: int | None = None, notice_days: int | None = None,
                    effective_on: dt.date | None = None, operator_id: int | None = None) -> ProposalSettings:
        return cls(window_days=window_days if window_days is not None else config["PROPOSAL_WINDOW_DAYS"],
                   notice_days=notice_days if notice_days is not None else config["PROPOSAL_NOTICE_DAYS"],
                   quorum=Quorum(**config["PROPOSAL_QUORUM"]),
                   quorum_by_plan={code: Quorum(**q) for code, q in config["PROPOSAL_QUORUM_BY_PLAN"].items()},
                   effective_on=effective_on, operator_id=operator_id)

    def quorum_for(self, plan_code: str) -> Quorum:
        return self.quorum_by_plan.get(plan_code, self.quorum)


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


# --- tally ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tally:
    agree: int
    disagree: int
    eligible: int

    @property
    def answered(self) -> int:
        return self.agree + self.disagree

    @property
    def turnout_percent(self) -> int:
        return self.answered * 100 // self.eligible if self.eligible else 0

    def out(self) -> dict:
        return {"agree": self.agree, "disagree": self.disagree, "answered": self.answered,
                "eligible": self.eligible, "turnout_percent": self.turnout_percent}


def _eligible_count(session: Session, plan_id: int) -> int:
    return session.execute(select(func.count()).select_from(Membership).where(
        Membership.plan_id == plan_id, Membership.state.in_(ACTIVE_STATES))).scalar_one()


def live_tally(session: Session, proposal: RuleChangeProposal) -> Tally:
    """Two grouped queries: the answers of memberships still active, and the active memberships."""
    counts = dict(session.execute(
        select(RuleChangeAnswer.answer, func.count())
        .join(Membership, Membership.id == RuleChangeAnswer.membership_id)
        .where(RuleChangeAnswer.proposal_id == proposal.id, Membership.state.in_(ACTIVE_STATES))
        .group_by(RuleChangeAnswer.answer)).all())
    return Tally(int(counts.get("agree", 0)), int(counts.get("disagree", 0)), _eligible_count(session, proposal.plan_id))


def tally_of(session: Session, proposal: RuleChangeProposal) -> Tally:
    """Live while the window is open, frozen once it has closed."""
    if proposal.status == "open":
        return live_tally(session, proposal)
    return Tally(proposal.agree_count or 0, proposal.disagree_count or 0, proposal.eligible_count or 0)


def quorum_of(proposal: RuleChangeProposal) -> Quorum:
    return Quorum(proposal.agree_numerator, proposal.agree_denominator, proposal.min_turnout_percent)


# --- proposing (from the catalogue) --------------------------------------------------------
def _audit(session: Session, action: str, proposal_id: int, now: dt.datetime, *, operator_id: int | None = None,
           before: dict | None = None, after: dict | None = None) -> None:
    audit_chain.append(session, operator_id=operator_id, action=action, target_type=TARGET, target_id=proposal_id,
                       now=now, before=before, after=after)


def pending_proposal(session: Session, plan_id: int) -> RuleChangeProposal | None:
    return session.execute(select(RuleChangeProposal).where(
        RuleChangeProposal.plan_id == plan_id, RuleChangeProposal.status.in_(PENDING_STATUSES))).scalar_one_or_none()


def _effective_at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=CHINA_TZ).astimezone(dt.timezone.utc)


def catalogue_change(session: Session, plan: Plan, current: PlanVersion, rules: dict, digest: str,
                     now: dt.datetime, settings: ProposalSettings, new_version) -> tuple[str, str]:
    """What a changed catalogue entry does (caller's transaction, from plans.load_catalogue).
    Returns (outcome, note): "proposed" (a proposal opened), "adopted" (no active membership: the
    rules apply at once), or "waiting" (a change is already pending, or the members rejected exactly
    these rules: nothing changes). `new_version(rules, digest)` stores a version row."""
    pending = pending_proposal(session, plan.id)
    if pending is not None:
        same = session.get(PlanVersion, pending.to_version_id).rules_sha256 == digest
        note = "已在征求意见" if same else "另一项规则变更尚未结束，本次变更未提出"
        return "waiting", f"{plan.code}: {note}（提案#{pending.id}）"
    rejected = session.execute(
        select(RuleChangeProposal.id).join(PlanVersion, PlanVersion.id == RuleChangeProposal.to_version_id)
        .where(RuleChangeProposal.plan_id == plan.id, RuleChangeProposal.status == "failed",
               RuleChangeProposal.from_version_id == current.id, PlanVersion.rules_sha256 == digest)
        .order_by(RuleChangeProposal.id.desc()).limit(1)).scalar_one_or_none()
    if rejected is not None:
        return "waiting", f"{plan.code}: 会员已否决同样的变更（提案#{rejected}），不再自动提出"
    version = new_version(rules, digest)
    if _eligible_count(session, plan.id) == 0:
        before_id = current.id
        plan.current_version_id = version.id
        plan.name = rules["name"]
        session.flush()
        audit_chain.append(session, operator_id=settings.operator_id, action="rule_change.adopted_without_members",
                           target_type="plan", target_id=plan.id, now=now,
                           before={"plan_version_id": before_id}, after={"plan_version_id": version.id})
        events.record(session, "plan.rules_adopted", now=now, plan_id=plan.id,
                      payload={"from_version_id": before_id, "to_version_id": version.id, "members": 0})
        return "adopted", f"{plan.code}: 没有在保会员，新规则直接生效（第{version.version}版）"
    proposal = open_proposal(session, plan, current, version, now, settings)
    return "proposed", f"{plan.code}: 规则变更提案#{proposal.id}，征求意见至{china_date(proposal.window_closes_at)}"


def open_proposal(session: Session, plan: Plan, current: PlanVersion, version: PlanVersion, now: dt.datetime,
                  settings: ProposalSettings) -> RuleChangeProposal:
    if settings.window_days < 1 or settings.notice_days < 0:
        raise InvalidRequest("征求意见期至少1天，通知期不能为负", code="proposal_settings_invalid")
    closes = now + dt.timedelta(days=settings.window_days)
    effective_on = settings.effective_on or (china_date(closes) + dt.timedelta(days=max(1, settings.notice_days)))
    if _effective_at(effective_on) <= closes:
        raise InvalidRequest("生效日期必须在征求意见期结束之后", code="effective_date_too_early",
                             details={"window_closes_at": closes.isoformat()})
    diffs = differences(current.rules, version.rules)
    quorum = settings.quorum_for(plan.code)
    notice_ends_on = effective_on - dt.timedelta(days=1)
    labels = "、".join(d["label"] for d in diffs) or "规则说明"
    summary = (f"拟将{current.rules['name']}的规则由第{current.version}版改为第{version.version}版：" +
               "；".join(d["text"] for d in diffs) +
               f"。征求意见至{china_date(closes)}（北京时间），{quorum.agree_ratio_text}且答复者不少于全部会员的"
               f"{quorum.min_turnout_percent}%即通过；通过后自{effective_on}起适用于全部会员，不同意者可在"
               f"{notice_ends_on}前退出，余额全额原路退回。未通过则规则不变。")
    proposal = RuleChangeProposal(
        plan_id=plan.id, from_version_id=current.id, to_version_id=version.id, status="open",
        title=f"{current.rules['name']}规则变更：{labels}"[:100], summary_text=summary, differences=diffs,
        window_opens_at=now, window_closes_at=closes, effective_on=effective_on, effective_at=_effective_at(effective_on),
        notice_ends_on=notice_ends_on, agree_numerator=quorum.agree_numerator,
        agree_denominator=quorum.agree_denominator, min_turnout_percent=quorum.min_turnout_percent, created_at=now)
    session.add(proposal)
    session.flush()
    _audit(session, "rule_change.proposed", proposal.id, now, operator_id=settings.operator_id,
           after={"plan_id": plan.id, "from_version_id": current.id, "to_version_id": version.id,
                  "window_closes_at": closes.isoformat(), "effective_on": effective_on.isoformat(),
                  "fields": [d["field"] for d in diffs]})
    events.record(session, "proposal.opened", now=now, plan_id=plan.id,
                  payload={"proposal_id": proposal.id, "window_closes_at": closes.isoformat()})
    return proposal


# --- answering -----------------------------------------------------------------------------
@dataclass(frozen=True)
class AnswerResult:
    proposal_id: int
    membership_id: int
    answer: str
    answered_at: dt.datetime
    tally: Tally


def _not_found() -> NotFound:
    return NotFound("没有找到这项规则变更或这份互助", code="not_found")


def get_proposal(session: Session, proposal_id: int, *, for_update: bool = False) -> RuleChangeProposal:
    query = select(RuleChangeProposal).where(RuleChangeProposal.id == proposal_id)
    found = session.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
    if found is None:
        raise _not_found()
    return found


def is_window_open(proposal: RuleChangeProposal, now: dt.datetime) -> bool:
    return proposal.status == "open" and proposal.window_opens_at <= now < proposal.window_closes_at


def answer(session: Session, *, user_id: int, membership_id: int, proposal_id: int, answer: str,
           now: dt.datetime) -> AnswerResult:
    """The payer answers for one membership, once. Another user's membership, or a proposal of
    another plan, is not found (404); a second answer is already_answered, an answer outside the
    window proposal_closed (409)."""
    if answer not in ANSWERS:
        raise InvalidRequest("请选择同意或不同意", code="answer_invalid")
    with atomic(session):
        member = session.execute(select(Membership.plan_id, Membership.state).where(
            Membership.id == membership_id, Membership.user_id == user_id)).one_or_none()
        if member is None:
            raise _not_found()
        proposal = get_proposal(session, proposal_id)
        if proposal.plan_id != member.plan_id:
            raise _not_found()
        if session.execute(select(RuleChangeAnswer.id).where(
                RuleChangeAnswer.proposal_id == proposal_id, RuleChangeAnswer.membership_id == membership_id)).first():
            raise Conflict("这份互助已经表过态了，每份互助只能表态一次", code="already_answered")
        if not is_window_open(proposal, now):
            raise Conflict("征求意见期已经结束", code="proposal_closed",
                           details={"window_closes_at": proposal.window_closes_at.isoformat()})
        if member.state not in ACTIVE_STATES:
            raise Conflict("这份互助已经结束，不参与表决", code="membership_ended", details={"state": member.state})
        session.add(RuleChangeAnswer(proposal_id=proposal_id, membership_id=membership_id, user_id=user_id,
                                     answer=answer, answered_at=now))
        try:
            session.flush()
        except IntegrityError:  # a concurrent answer for the same membership won
            raise Conflict("这份互助已经表过态了，每份互助只能表态一次", code="already_answered") from None
        events.record(session, "proposal.answered", now=now, user_id=user_id, plan_id=proposal.plan_id,
                      membership_id=membership_id, payload={"proposal_id": proposal_id, "answer": answer})
        tally = live_tally(session, proposal)
    return AnswerResult(proposal_id, membership_id, answer, now, tally)


# --- closing and coming into force ---------------------------------------------------------
def _outcome_text(passed: bool, tally: Tally, quorum: Quorum, proposal: RuleChangeProposal) -> str:
    counts = (f"{tally.eligible}份互助中{tally.answered}份答复（{tally.turnout_percent}%），"
              f"同意{tally.agree}、不同意{tally.disagree}")
    if passed:
        return (f"已通过：{counts}。新规则自{proposal.effective_on}起适用于全部在保会员；不同意者可在"
                f"{proposal.notice_ends_on}前退出，余额全额原路退回（只扣已准备的分摊中应付的份额）。")
    reasons = []
    if tally.answered * 100 < quorum.min_turnout_percent * tally.eligible or tally.answered == 0:
        reasons.append(f"答复不足全部会员的{quorum.min_turnout_percent}%")
    if tally.agree * quorum.agree_denominator < quorum.agree_numerator * tally.answered or tally.answered == 0:
        reasons.append(f"同意者未达答复者的{AGREE_RATIO_WORDS.get((quorum.agree_numerator, quorum.agree_denominator), '规定比例')}")
    return f"未通过（{'，'.join(reasons)}）：{counts}。规则不变，提案存档。"


def close(session: Session, proposal_id: int, now: dt.datetime, *, operator_id: int | None = None
          ) -> RuleChangeProposal:
    """Decide an open proposal whose window has ended, from its tally frozen now."""
    with atomic(session):
        proposal = get_proposal(session, proposal_id, for_update=True)
        if proposal.status != "open":
            raise Conflict("这项规则变更已经有结果", code="proposal_not_open", details={"status": proposal.status})
        if now < proposal.window_closes_at:
            raise Conflict("征求意见期还没有结束", code="window_not_over",
                           details={"window_closes_at": proposal.window_closes_at.isoformat()})
        tally = live_tally(session, proposal)
        quorum = quorum_of(proposal)
        passed = quorum.passes(tally.agree, tally.answered, tally.eligible)
        proposal.status = "passed" if passed else "failed"
        proposal.agree_count, proposal.disagree_count = tally.agree, tally.disagree
        proposal.eligible_count, proposal.closed_at = tally.eligible, now
        if not passed:
            proposal.notice_ends_on = None
        proposal.outcome_text = _outcome_text(passed, tally, quorum, proposal)
        session.flush()
        _audit(session, "rule_change.passed" if passed else "rule_change.failed", proposal.id, now,
               operator_id=operator_id, before={"status": "open"}, after={"status": proposal.status, **tally.out()})
        events.record(session, "proposal.closed", now=now, plan_id=proposal.plan_id,
                      payload={"proposal_id": proposal.id, "status": proposal.status, **tally.out()})
    return proposal


def bring_into_force(session: Session, proposal_id: int, now: dt.datetime, *, operator_id: int | None = None
                     ) -> RuleChangeProposal:
    """On the effective date: every active membership of the plan moves to the new version (one
    set-based UPDATE) and the plan's current version becomes it, in one transaction."""
    with atomic(session):
        proposal = get_proposal(session, proposal_id, for_update=True)
        if proposal.status != "passed":
            raise Conflict("只有已通过的规则变更可以生效", code="proposal_not_passed", details={"status": proposal.status})
        if now < proposal.effective_at:
            raise Conflict("还没到生效日期", code="not_effective_yet",
                           details={"effective_on": proposal.effective_on.isoformat()})
        _lock_open_run(session, proposal.plan_id)
        plan = session.execute(select(Plan).where(Plan.id == proposal.plan_id).with_for_update()).scalar_one()
        version = session.get(PlanVersion, proposal.to_version_id)
        moved = _move_members(session, proposal)
        plan.current_version_id, plan.name = version.id, version.rules["name"]
        proposal.status, proposal.in_force_at, proposal.moved_count = "in_force", now, moved
        session.flush()
        _audit(session, "rule_change.in_force", proposal.id, now, operator_id=operator_id,
               before={"status": "passed", "plan_version_id": proposal.from_version_id},
               after={"status": "in_force", "plan_version_id": version.id, "memberships_moved": moved})
        events.record(session, "proposal.in_force", now=now, plan_id=proposal.plan_id,
                      payload={"proposal_id": proposal.id, "to_version_id": version.id, "moved": moved})
    return proposal


def _lock_open_run(session: Session, plan_id: int) -> None:
    """The plan's open run first, the lock order of a run's chunks and of leaving (run, memberships,
    accounts): moving the memberships never deadlocks with a chunk suspending some of them."""
    from .apportionment import lock_open_run  # apportionment imports this module

    lock_open_run(session, plan_id)


def _move_members(session: Session, proposal: RuleChangeProposal) -> int:
    return session.execute(
        update(Membership).where(Membership.plan_id == proposal.plan_id, Membership.state.in_(ACTIVE_STATES),
                                 Membership.plan_version_id != proposal.to_version_id)
        .values(plan_version_id=proposal.to_version_id).execution_options(synchronize_session=False)).rowcount


def _sweep_stragglers(session: Session, now: dt.datetime) -> int:
    """A join that read the old current version just before a proposal came into force commits a
    membership on the old version: the proposal binds it too. Moves such stragglers (audited)."""
    moved_total = 0
    for proposal in session.execute(select(RuleChangeProposal).join(Plan, Plan.id == RuleChangeProposal.plan_id).where(
            RuleChangeProposal.status == "in_force", Plan.current_version_id == RuleChangeProposal.to_version_id)
            ).scalars().all():
        with atomic(session):
            _lock_open_run(session, proposal.plan_id)
            moved = session.execute(
                update(Membership).where(Membership.plan_id == proposal.plan_id, Membership.state.in_(ACTIVE_STATES),
                                         Membership.plan_version_id == proposal.from_version_id)
                .values(plan_version_id=proposal.to_version_id).execution_options(synchronize_session=False)).rowcount
            if moved:
                _audit(session, "rule_change.stragglers_moved", proposal.id, now, after={"memberships_moved": moved})
        moved_total += moved
    return moved_total


@dataclass(frozen=True)
class AdvanceResult:
    closed: list[int]
    in_force: list[int]
    stragglers: int = 0


def advance(session: Session, now: dt.datetime) -> AdvanceResult:
    """Close every proposal whose window has ended; bring into force every passed one whose
    effective date has come. Each proposal in its own transaction; safe to run again."""
    due_close = list(session.execute(select(RuleChangeProposal.id).where(
        RuleChangeProposal.status == "open", RuleChangeProposal.window_closes_at <= now)
        .order_by(RuleChangeProposal.id)).scalars())
    closed = [close(session, pid, now).id for pid in due_close]
    due_force = list(session.execute(select(RuleChangeProposal.id).where(
        RuleChangeProposal.status == "passed", RuleChangeProposal.effective_at <= now)
        .order_by(RuleChangeProposal.id)).scalars())
    in_force = [bring_into_force(session, pid, now).id for pid in due_force]
    return AdvanceResult(closed, in_force, _sweep_stragglers(session, now))


# --- the rules in force (apportionment) ----------------------------------------------------
def version_in_force(session: Session, plan_id: int, at: dt.datetime) -> PlanVersion | None:
    """The plan's rule version in force at `at` by its passed proposals' effective dates, or None
    when no proposal of the plan has passed (the memberships' versions decide, as before)."""
    changes = session.execute(select(RuleChangeProposal.from_version_id, RuleChangeProposal.to_version_id,
                                     RuleChangeProposal.effective_at).where(
        RuleChangeProposal.plan_id == plan_id, RuleChangeProposal.status.in_(("passed", "in_force")))
        .order_by(RuleChangeProposal.effective_at, RuleChangeProposal.id)).all()
    if not changes:
        return None
    version_id = changes[0].from_version_id
    for change in changes:
        if change.effective_at <= at:
            version_id = change.to_version_id
    return session.get(PlanVersion, version_id)


# --- reading -------------------------------------------------------------------------------
def describe(session: Session, proposal: RuleChangeProposal, plan_code: str, tally: Tally | None = None) -> dict:
    """The public proposal object (docs/rule-changes.md; the API contract of issue 14)."""
    tally = tally or tally_of(session, proposal)
    quorum = quorum_of(proposal)
    versions = dict(session.execute(select(PlanVersion.id, PlanVersion.version).where(
        PlanVersion.id.in_((proposal.from_version_id, proposal.to_version_id)))).all())
    return {
        "id": proposal.id, "plan_code": plan_code, "status": proposal.status, "title": proposal.title,
        "summary_text": proposal.summary_text,
        "differences": [{k: d[k] for k in ("field", "label", "before_text", "after_text", "text")}
                        for d in proposal.differences],
        "from_version": versions.get(proposal.from_version_id), "to_version": versions.get(proposal.to_version_id),
        "window_opens_at": proposal.window_opens_at, "window_closes_at": proposal.window_closes_at,
        "effective_on": proposal.effective_on, "notice_ends_on": proposal.notice_ends_on,
        "quorum": {"agree_ratio_text": quorum.agree_ratio_text, "agree_numerator": quorum.agree_numerator,
                   "agree_denominator": quorum.agree_denominator,
                   "min_turnout_percent": quorum.min_turnout_percent, "eligible_count": tally.eligible},
        "tally": tally.out(), "outcome_text": proposal.outcome_text,
        "closed_at": proposal.closed_at, "in_force_at": proposal.in_force_at,
    }


def plan_code_of(session: Session, plan_id: int) -> str:
    return session.execute(select(Plan.code).where(Plan.id == plan_id)).scalar_one()


def for_plan(session: Session, plan_code: str) -> list[dict]:
    plan = session.execute(select(Plan).where(Plan.code == plan_code)).scalar_one_or_none()
    if plan is None:
        raise NotFound("没有这个互助计划", code="plan_not_found", details={"plan_code": plan_code})
    proposals = session.execute(select(RuleChangeProposal).where(RuleChangeProposal.plan_id == plan.id)
                                .order_by(RuleChangeProposal.id.desc())).scalars().all()
    return [describe(session, p, plan.code) for p in proposals]


def public(session: Session, proposal_id: int) -> dict:
    proposal = get_proposal(session, proposal_id)
    return describe(session, proposal, plan_code_of(session, proposal.plan_id))


def for_membership(session: Session, *, user_id: int, membership_id: int, now: dt.datetime) -> list[dict]:
    """The payer's view: every proposal of the membership's plan, newest first, with its answer,
    whether it may answer now and whether it may leave with a full refund (it disagreed with a
    passed proposal and the notice period has not ended)."""
    member = session.execute(select(Membership.plan_id, Membership.state).where(
        Membership.id == membership_id, Membership.user_id == user_id)).one_or_none()
    if member is None:
        raise _not_found()
    plan_code = plan_code_of(session, member.plan_id)
    mine = dict(session.execute(select(RuleChangeAnswer.proposal_id, RuleChangeAnswer.answer).where(
        RuleChangeAnswer.membership_id == membership_id)).all())
    active = member.state in ACTIVE_STATES
    items = []
    for proposal in session.execute(select(RuleChangeProposal).where(RuleChangeProposal.plan_id == member.plan_id)
                                    .order_by(RuleChangeProposal.id.desc())).scalars():
        my_answer = mine.get(proposal.id)
        items.append({
            **describe(session, proposal, plan_code), "my_answer": my_answer,
            "can_answer": active and my_answer is None and is_window_open(proposal, now),
            "can_leave_with_full_refund": may_leave_with_full_refund(proposal, my_answer, member.state, now),
        })
    return items


def may_leave_with_full_refund(proposal: RuleChangeProposal, my_answer: str | None, state: str,
                               now: dt.datetime) -> bool:
    return (proposal.status == "passed" and my_answer == "disagree" and state in ACTIVE_STATES
            and proposal.notice_ends_on is not None and china_date(now) <= proposal.notice_ends_on)


def all_proposals(session: Session, *, plan_id: int | None = None, limit: int = 200) -> list[RuleChangeProposal]:
    query = select(RuleChangeProposal).order_by(RuleChangeProposal.id.desc()).limit(limit)
    if plan_id is not None:
        query = query.where(RuleChangeProposal.plan_id == plan_id)
    return list(session.execute(query).scalars())
