"""Apportionment (pooled deduction) runs: prepare → publish → execute (chunks) → settle.

Rules: ../shared/domain.md, "Apportionment". Numbers, all integer fen:
- payers: memberships of the plan in good standing (observing or protected) whose observation
  started at or before the cut-off, and whose balance covers the share;
- each case's aid is limited to share_cap × payers; limited = Σ min(approved, cap × payers);
- fee = floor(limited × management_fee_bp / 10000) (rounded down: never above the stated rate);
- surplus used = min(plan surplus, limited + fee); amount = limited + fee − surplus used;
- share = ceil(amount / payers). Members below the share are left out and the share recomputed
  until the payer set is stable. The balances come from ONE grouped query (a histogram of the
  candidates' balances clamped at the largest possible share); the iteration runs over that
  histogram, never over members.

Execution debits members in ranges of membership ids (chunks). Each chunk is one database
transaction holding one ledger transaction (key run:{id}:chunk:{lo}-{hi}) with one posting per
payer plus the pool's, the balance updates, the suspensions and the recovery point. Killing the
process anywhere and executing again resumes after the last committed chunk.

Who pays is decided per member when its chunk runs, against the frozen share: a member who
topped up after the run was published (to avoid suspension) pays; one below the share is
suspended. So the number who pay may exceed the published payer count (the extra fen go to the
plan's surplus) and, by leaving or other debits (refused during a run by the leave guard), fall
below it: the pool always gets exactly what was debited, and settlement pays cases first."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from app.models import (
    Account, ApportionmentRun, ApportionmentRunCase, Claim, ClaimObjection, Membership, Plan, PlanVersion, Posting,
    UTCDateTime,
)
from app.models.ledger import LedgerTransaction

from . import events, ledger, refund_orders, transparency
from .errors import Conflict, InvalidRequest, NotFound
from .plans import fen_to_yuan_text, get_plan
from .unit_of_work import atomic

RUN_REFERENCE = "apportionment_run"
DEDUCTION_REASON = "deduction"
SETTLE_REASON = "apportionment_settle"
WITHHELD_RETURNED_REASON = "withheld_returned"  # a cancelled run gives back a share withheld at leaving
CASE_STATUSES = ("publicity", "ready")
COLLECTED_STATUSES = ("collected", "paid")  # a case whose aid a run collected (an amount owed may follow)
GOOD_STANDING = ("observing", "protected")
DEFAULT_CHUNK_SIZE = 100_000
DEFAULT_GRACE_DAYS = 30
PUBLIC_STATUSES = ("published", "executing", "executed")


# --- arithmetic (pure) --------------------------------------------------------------------
@dataclass(frozen=True)
class Numbers:
    payers: int
    share_fen: int
    limited: tuple[int, ...]
    limited_total: int
    fee_fen: int
    surplus_used: int
    amount_fen: int


@dataclass(frozen=True)
class Round:
    """One step of the payer-set recomputation: `payers` give `share_fen`, which `able` can pay."""
    payers: int
    share_fen: int
    able: int


@dataclass(frozen=True)
class ShareResult:
    numbers: Numbers
    low_balance: int  # candidates below the share
    rounds: int
    settled: bool = True  # False: the payer set had no fixed point (domain.md: the smallest share in the cycle)
    trail: tuple[Round, ...] = ()  # every round, in order; a cycle's rounds are at its end


def fee_of(limited_total: int, fee_bp: int) -> int:
    return limited_total * fee_bp // 10_000


def numbers_for(payers: int, approved: list[int], cap: int, fee_bp: int, surplus: int) -> Numbers:
    limited = tuple(min(a, cap * payers) for a in approved)
    total = sum(limited)
    fee = fee_of(total, fee_bp)
    used = min(surplus, total + fee)
    amount = total + fee - used
    share = -(-amount // payers) if payers else 0
    return Numbers(payers, share, limited, total, fee, used, amount)


def solve_share(approved: list[int], cap: int, fee_bp: int, surplus: int, candidates: int,
                count_at_least: Callable[[int], int]) -> ShareResult:
    """The stable payer set: n → share(n) → n' = #(balance ≥ share) until n' = n.

    Without surplus, share(n) never increases with n, so the sequence from all candidates only
    falls and stops in a few rounds. The limited aid grows with n (cap × n), so with a surplus
    the sequence can cycle (6 payers → share 400, payable by 8; 8 payers → share 450, payable
    by 6). Then (domain.md, "When the payer set has no fixed point") the share is the smallest
    share s of the cycle and the payers are all P = #(balance ≥ s) (P is in the cycle: it follows
    the n that gave s); aid is limited to cap × P. share(P) is a share of the cycle, so ≥ s, and
    ≠ s (else P were a fixed point): s × P + surplus used falls short of the limited aid + fee,
    and the cases split all of it (planned_split); nothing is over-collected.

    Total: there is no round limit. After the first round every n is a value of count_at_least,
    which takes at most one value per distinct clamped balance (+1), so within that many rounds
    the sequence reaches a fixed point or repeats a value."""
    n, trail, position = candidates, [], {}
    while True:
        numbers = numbers_for(n, approved, cap, fee_bp, surplus)
        able = count_at_least(numbers.share_fen) if n else 0
        position[n] = len(trail)
        trail.append(Round(n, numbers.share_fen, able))
        if able == n:
            return ShareResult(numbers, candidates - n, len(trail), True, tuple(trail))
        if able in position:
            break
        n = able
    cycle = trail[position[able]:]
    share = min(r.share_fen for r in cycle)
    payers = count_at_least(share)
    at = numbers_for(payers, approved, cap, fee_bp, surplus)
    numbers = Numbers(payers, share, at.limited, at.limited_total, at.fee_fen, at.surplus_used, at.amount_fen)
    return ShareResult(numbers, candidates - payers, len(trail), False, tuple(trail))


def planned_split(numbers: Numbers) -> tuple[list[int], int]:
    """(each case's aid due, the fee due) from what the run will collect: share × payers + surplus
    used, cases first up to their limited aid, in proportion to it; then the fee. In a settled run
    that is the limited aid and the fee in full; in an unsettled one (share below share(payers))
    the cases get all of it."""
    available = numbers.share_fen * numbers.payers + numbers.surplus_used
    aid = min(numbers.limited_total, available)
    return split_proportionally(aid, list(numbers.limited)), min(numbers.fee_fen, available - aid)


def split_proportionally(total: int, weights: list[int]) -> list[int]:
    """Integer parts of `total` proportional to `weights`, summing exactly to `total`.

    Each part is floor(total × w / Σw); the fen left over go one each to the largest
    remainders, ties to the earlier case."""
    weight = sum(weights)
    if weight == 0:
        return [0] * len(weights)
    parts = [total * w // weight for w in weights]
    left = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight), i))
    for i in order[:left]:
        parts[i] += 1
    return parts


# --- queries ------------------------------------------------------------------------------
_DT = UTCDateTime()
_Owed = aliased(ApportionmentRunCase, name="owed")  # an earlier run's row, in a query over carried rows


def _sql(statement: str, **datetimes) -> text:
    """A text() statement whose datetime parameters go through UTCDateTime (SQLite stores naive UTC)."""
    clause = text(statement)
    used = [bindparam(name, value, type_=_DT) for name, value in datetimes.items() if f":{name}" in statement]
    return clause.bindparams(*used) if used else clause


def _candidates_histogram(session: Session, plan_id: int, cut_off: dt.datetime, clamp: int) -> list[tuple[int, int]]:
    rows = session.execute(_sql(
        "SELECT CASE WHEN a.balance_fen >= :clamp THEN :clamp ELSE a.balance_fen END AS b, COUNT(*) AS n "
        "FROM memberships m JOIN accounts a ON a.membership_id = m.id "
        "WHERE m.plan_id = :plan AND m.state IN ('observing', 'protected') AND m.observation_starts_at <= :cut_off "
        "GROUP BY 1", cut_off=cut_off), {"plan": plan_id, "clamp": clamp}).all()
    return sorted((int(b), int(n)) for b, n in rows)


def _counter(histogram: list[tuple[int, int]]) -> Callable[[int], int]:
    def count_at_least(share: int) -> int:
        return sum(n for b, n in histogram if b >= share)

    return count_at_least


def _open_run(session: Session, plan_id: int) -> ApportionmentRun | None:
    return session.execute(select(ApportionmentRun).where(
        ApportionmentRun.plan_id == plan_id, ApportionmentRun.status.in_(("prepared", "published", "executing"))
    )).scalar_one_or_none()


def _eligible_cases(session: Session, plan_id: int, cut_off: dt.datetime) -> list[Claim]:
    in_a_run = select(ApportionmentRunCase.id).where(
        ApportionmentRunCase.claim_id == Claim.id, ApportionmentRunCase.active.is_(True)).exists()
    # A case challenged during publicity waits until a reviewer has ruled on the objection.
    challenged = select(ClaimObjection.id).where(
        ClaimObjection.claim_id == Claim.id, ClaimObjection.status == "pending").exists()
    return list(session.execute(
        select(Claim).where(
            Claim.plan_id == plan_id, Claim.status.in_(CASE_STATUSES), Claim.publicity_ends_at <= cut_off,
            Claim.approved_aid_fen.is_not(None), ~in_a_run, ~challenged,
        ).order_by(Claim.publicity_ends_at, Claim.id)
    ).scalars())


def get_run(session: Session, run_id: int, *, for_update: bool = False) -> ApportionmentRun:
    query = select(ApportionmentRun).where(ApportionmentRun.id == run_id)
    if for_update:
        query = query.with_for_update()
    run = session.execute(query).scalar_one_or_none()
    if run is None:
        raise NotFound("没有找到这次分摊", code="run_not_found", details={"run_id": run_id})
    return run


def open_run_id(session: Session, plan_code: str) -> int:
    plan, _ = get_plan(session, plan_code)
    run = _open_run(session, plan.id)
    if run is None:
        raise NotFound("这个计划没有进行中的分摊", code="run_not_found", details={"plan_code": plan_code})
    return run.id


# --- prepare / publish / cancel -----------------------------------------------------------
def _run_version(session: Session, plan_id: int, cut_off: dt.datetime, current: PlanVersion) -> PlanVersion:
    """The rule version a run uses: each membership keeps the version it joined under and a rule
    change needs its consent (no consent flow yet). So the run uses the candidates' version (the
    current one when they hold it or there are none) and refuses while candidates hold versions
    whose share cap or management fee differ: one share cannot honour both."""
    versions = list(session.execute(select(PlanVersion).where(PlanVersion.id.in_(
        select(Membership.plan_version_id).where(
            Membership.plan_id == plan_id, Membership.state.in_(GOOD_STANDING),
            Membership.observation_starts_at <= cut_off).distinct()))).scalars())
    terms = {(v.rules["share_cap_fen"], v.rules["management_fee_bp"]) for v in versions}
    if len(terms) > 1:
        raise Conflict("本计划的会员适用不同版本的分摊规则（每案分摊上限或管理费不同），需会员同意新规则后才能分摊",
                       code="mixed_rule_versions",
                       details={"plan_version_ids": sorted(v.id for v in versions)})
    if not versions or any(v.id == current.id for v in versions):
        return current
    return max(versions, key=lambda v: v.version)


def _owed_cases(session: Session, plan_id: int) -> list[ApportionmentRunCase]:
    """Rows of executed runs still owing their case aid (shortfall) that no open run carries yet."""
    carried = select(ApportionmentRunCase.id).where(
        ApportionmentRunCase.carried_from_id == _Owed.id, ApportionmentRunCase.active.is_(True)).exists()
    return list(session.execute(
        select(_Owed).join(ApportionmentRun, ApportionmentRun.id == _Owed.run_id)
        .join(Claim, Claim.id == _Owed.claim_id)
        .where(ApportionmentRun.plan_id == plan_id, ApportionmentRun.status == "executed",
               _Owed.shortfall_fen > 0, Claim.status.in_(COLLECTED_STATUSES), ~carried)
        .order_by(_Owed.id)
    ).scalars())


def prepare(session: Session, plan_code: str, now: dt.datetime, *, cut_off: dt.datetime | None = None,
            chunk_size: int = DEFAULT_CHUNK_SIZE) -> ApportionmentRun:
    """Freeze a run's numbers: cases (and amounts still owed to earlier cases), limited aid, fee,
    surplus used, payers and the share."""
    cut_off = cut_off or now
    if cut_off > now:
        raise InvalidRequest("截止时间不能晚于现在", code="cut_off_in_future")
    if type(chunk_size) is not int or chunk_size < 1:
        raise InvalidRequest("分批大小必须是正整数", code="chunk_size_invalid")
    with atomic(session):
        plan, version = get_plan(session, plan_code)
        if _open_run(session, plan.id) is not None:
            raise Conflict("这个计划有一次分摊尚未完成", code="run_in_progress", details={"plan_code": plan_code})
        # Owed amounts first: the earlier promise.
        owed = _owed_cases(session, plan.id)
        cases = _eligible_cases(session, plan.id, cut_off)
        if not cases and not owed:
            raise Conflict("截止时没有公示期满的案例", code="no_cases", details={"plan_code": plan_code})
        version = _run_version(session, plan.id, cut_off, version)
        rules = version.rules
        cap, fee_bp = rules["share_cap_fen"], rules["management_fee_bp"]
        rows = [(o.claim_id, o.shortfall_fen, o.id) for o in owed] + [(c.id, c.approved_aid_fen, None) for c in cases]
        approved = [amount for _, amount, _ in rows]
        # No share can exceed every case's cap plus its fee: balances above that are all alike.
        clamp = len(rows) * cap + fee_of(len(rows) * cap, fee_bp) + 2
        histogram = _candidates_histogram(session, plan.id, cut_off, clamp)
        candidates = sum(n for _, n in histogram)
        surplus = ledger.balance_of(session, ledger.account_id(session, ledger.plan_account_code(plan.code, "plan_surplus")))
        result = solve_share(approved, cap, fee_bp, surplus, candidates, _counter(histogram))
        numbers = result.numbers
        if numbers.payers == 0:
            raise Conflict("没有余额足以分摊的会员", code="no_payers", details={"candidates": candidates})
        due, _ = planned_split(numbers)
        first, last = session.execute(
            select(func.min(Membership.id), func.max(Membership.id)).where(Membership.plan_id == plan.id)).one()
        run = ApportionmentRun(
            plan_id=plan.id, plan_version_id=version.id, status="prepared", cut_off_at=cut_off,
            share_cap_fen=cap, management_fee_bp=fee_bp, case_count=len(rows), approved_aid_fen=sum(approved),
            limited_aid_fen=numbers.limited_total, fee_fen=numbers.fee_fen, surplus_before_fen=surplus,
            surplus_used_fen=numbers.surplus_used, amount_fen=numbers.amount_fen, payer_count=numbers.payers,
            low_balance_count=result.low_balance, share_fen=numbers.share_fen, rounds=result.rounds,
            payer_set_settled=result.settled,
            payer_rounds=[{"payers": r.payers, "share_fen": r.share_fen, "able": r.able} for r in result.trail],
            first_membership_id=first, end_membership_id=last + 1, chunk_size=chunk_size, next_membership_id=first,
            debited_count=0, debited_fen=0, suspended_count=0, withheld_count=0, prepared_at=now,
        )
        session.add(run)
        try:
            session.flush()
            session.add_all([
                ApportionmentRunCase(run_id=run.id, claim_id=claim_id, position=i, approved_aid_fen=amount,
                                     limited_aid_fen=limited, due_aid_fen=part, carried_from_id=carried_from,
                                     active=True)
                for i, ((claim_id, amount, carried_from), limited, part)
                in enumerate(zip(rows, numbers.limited, due))
            ])
            session.flush()
        except IntegrityError:
            raise Conflict("另一次分摊刚刚开始，请稍后查看", code="run_in_progress") from None
    return run


def publish(session: Session, run_id: int, now: dt.datetime) -> ApportionmentRun:
    with atomic(session):
        run = get_run(session, run_id, for_update=True)
        if run.status != "prepared":
            raise Conflict("只有准备好的分摊可以公布", code="run_not_prepared", details={"status": run.status})
        run.status, run.published_at = "published", now
        session.flush()
        events.record(session, "run.published", now=now, plan_id=run.plan_id, run_id=run.id,
                      payload={"share_fen": run.share_fen, "case_count": run.case_count,
                               "cut_off_at": run.cut_off_at.isoformat()})
    return run


def cancel(session: Session, run_id: int, now: dt.datetime) -> ApportionmentRun:
    """Drop a run that has not started executing; its cases may join a later run."""
    with atomic(session):
        run = get_run(session, run_id, for_update=True)
        if run.status not in ("prepared", "published"):
            raise Conflict("分摊已开始执行，不能取消", code="run_not_cancellable", details={"status": run.status})
        run.status, run.cancelled_at = "cancelled", now
        session.execute(update(ApportionmentRunCase).where(ApportionmentRunCase.run_id == run.id)
                        .values(active=False).execution_options(synchronize_session=False))
        _return_withheld_shares(session, run, now)
    return run


def _return_withheld_shares(session: Session, run: ApportionmentRun, now: dt.datetime) -> None:
    """A cancelled run collects nothing: each share withheld from a member who left goes back to
    the member's balance and on to the original payments (the next reconcile asks WeChat)."""
    withheld = _withheld_shares(session, run)
    if not withheld:
        return
    plan_code = session.execute(select(Plan.code).where(Plan.id == run.plan_id)).scalar_one()
    pool = ledger.account_id(session, ledger.plan_account_code(plan_code, "plan_pool"))
    for membership_id, fen in withheld:
        ledger.post_transaction(
            session, idempotency_key=f"run:{run.id}:withheld-returned:{membership_id}", reason=WITHHELD_RETURNED_REASON,
            legs=[ledger.Leg(pool, -fen), ledger.Leg(_member_account(session, membership_id), fen)],
            now=now, reference_type=RUN_REFERENCE, reference_id=str(run.id))
        state = session.execute(select(Membership.state).where(Membership.id == membership_id)).scalar_one()
        if state == "left":  # an aided membership keeps its balance, as it would have without the run
            refund_orders.refund_to_payments(session, membership_id=membership_id, amount_fen=fen,
                                             key=f"run:{run.id}:withheld-refund:{membership_id}", now=now,
                                             user_id=None)


# --- execute ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChunkResult:
    payers: int
    suspended: int


def _chunk_key(run_id: int, lo: int, hi: int) -> str:
    return f"run:{run_id}:chunk:{lo}-{hi}"


def _chunk_hash(run: ApportionmentRun, lo: int, hi: int) -> str:
    body = {"run": run.id, "lo": lo, "hi": hi, "share": run.share_fen, "reason": DEDUCTION_REASON}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


# A chunk is a range of membership ids; the range is stated on both sides of the 1:1 join so
# both are index range scans (a merge join), whatever the plan's size.
_CANDIDATES = (
    "FROM memberships m JOIN accounts a ON a.membership_id = m.id "
    "WHERE m.plan_id = :plan AND m.id >= :lo AND m.id < :hi AND a.membership_id >= :lo AND a.membership_id < :hi "
    "AND m.state IN ('observing', 'protected') AND m.observation_starts_at <= :cut_off"
)
_SUSPEND_SET = ("state = 'suspended', state_before_suspension = state, suspended_at = :stamp, "
                "grace_ends_at = :grace_ends, state_changed_at = :stamp")

# PostgreSQL: one statement decides, posts, debits, suspends and records the recovery point.
# First (separate statements) the chunk's members below the share are locked, re-checked on
# their latest version: a top-up cannot slip in between deciding "suspend" and suspending.
# Lock order = a top-up's (payments.settle locks the membership FOR UPDATE, then
# ledger.post_transaction the accounts): memberships first, then accounts. The reverse order
# deadlocked: the chunk held a low account and waited for its membership to suspend it, while
# a top-up held that membership and waited for the account. Now the chunk waits on the
# membership, the top-up finishes, and the account lock (a new statement, a new snapshot) sees
# the new balance. The others can only rise (top-ups), and the debit UPDATE re-reads a
# concurrently updated row before debiting it, so every member is decided on its latest
# balance and no top-up is lost. Locking only the few below the share keeps the cost off the
# many who pay. The postings are one INSERT (the zero-sum trigger checks each statement).
_PG_LOCK_MEMBERSHIPS = (
    "SELECT COUNT(*) FROM (SELECT m.id FROM memberships m JOIN accounts a ON a.membership_id = m.id "
    "WHERE m.plan_id = :plan AND m.id >= :lo AND m.id < :hi AND a.membership_id >= :lo AND a.membership_id < :hi "
    "AND a.balance_fen < :share ORDER BY m.id FOR NO KEY UPDATE OF m) locked")
_PG_LOCK = ("SELECT COUNT(*) FROM (SELECT a.id FROM accounts a WHERE a.membership_id >= :lo AND a.membership_id < :hi "
            "AND a.plan_id = :plan AND a.balance_fen < :share ORDER BY a.membership_id FOR NO KEY UPDATE) locked")
_PG_CHUNK = f"""
WITH cand AS (
    SELECT a.id AS account_id, a.membership_id, a.balance_fen >= :share AS pays {_CANDIDATES}
), n AS (SELECT COUNT(*) AS payers FROM cand WHERE pays),
txn AS (
    INSERT INTO ledger_transactions (idempotency_key, request_hash, reason, reference_type, reference_id, created_at)
    SELECT :key, :hash, '{DEDUCTION_REASON}', '{RUN_REFERENCE}', :run_ref, :stamp FROM n WHERE n.payers > 0
    RETURNING id
), posted AS (
    INSERT INTO postings (transaction_id, account_id, amount_fen)
    SELECT txn.id, cand.account_id, -CAST(:share AS BIGINT) FROM txn, cand WHERE cand.pays
    UNION ALL
    SELECT txn.id, :pool, CAST(:share AS BIGINT) * n.payers FROM txn, n
    RETURNING 1
), debited AS (
    UPDATE accounts a SET balance_fen = a.balance_fen - :share
      FROM cand WHERE a.id = cand.account_id AND cand.pays
    RETURNING 1
), pooled AS (
    UPDATE accounts SET balance_fen = balance_fen + CAST(:share AS BIGINT) * (SELECT payers FROM n)
     WHERE id = :pool AND (SELECT payers FROM n) > 0
    RETURNING 1
), suspended AS (
    UPDATE memberships m SET {_SUSPEND_SET}
      FROM cand WHERE m.id = cand.membership_id AND NOT cand.pays AND m.state IN ('observing', 'protected')
    RETURNING 1
), progress AS (
    UPDATE apportionment_runs r
       SET next_membership_id = :hi, debited_count = r.debited_count + n.payers,
           debited_fen = r.debited_fen + CAST(:share AS BIGINT) * n.payers,
           suspended_count = r.suspended_count + (SELECT COUNT(*) FROM suspended)
      FROM n WHERE r.id = :run AND r.next_membership_id = :lo
    RETURNING 1
)
SELECT n.payers, (SELECT COUNT(*) FROM suspended), (SELECT COUNT(*) FROM debited),
       (SELECT COUNT(*) FROM posted), (SELECT COUNT(*) FROM progress)
  FROM n
"""


def _params(run: ApportionmentRun, lo: int, hi: int, pool: int) -> dict:
    return {"plan": run.plan_id, "lo": lo, "hi": hi, "share": run.share_fen, "pool": pool, "run": run.id,
            "run_ref": str(run.id), "key": _chunk_key(run.id, lo, hi), "hash": _chunk_hash(run, lo, hi)}


def _datetimes(run: ApportionmentRun, grace_days: int) -> dict:
    return {"stamp": run.execute_at, "cut_off": run.cut_off_at,
            "grace_ends": run.execute_at + dt.timedelta(days=grace_days)}


def _chunk_postgresql(session: Session, run: ApportionmentRun, lo: int, hi: int, pool: int,
                      grace_days: int) -> ChunkResult:
    params = _params(run, lo, hi, pool)
    session.execute(text(_PG_LOCK_MEMBERSHIPS), params)
    session.execute(text(_PG_LOCK), params)
    row = session.execute(_sql(_PG_CHUNK, **_datetimes(run, grace_days)), params).one()
    payers, suspended, debited, posted, progressed = (int(v) for v in row)
    if progressed != 1 or debited != payers or posted != (payers + 1 if payers else 0):
        raise Conflict("分摊批次状态异常，已回滚", code="run_chunk_inconsistent",
                       details={"lo": lo, "payers": payers, "debited": debited, "posted": posted})
    return ChunkResult(payers, suspended)


def _chunk_sqlite(session: Session, run: ApportionmentRun, lo: int, hi: int, pool: int,
                  grace_days: int) -> ChunkResult:
    """SQLite has one writer at a time: the first UPDATE takes the write lock, so the reads
    after it see a database nobody else changes until this chunk commits."""
    params = _params(run, lo, hi, pool)
    moments = _datetimes(run, grace_days)
    progressed = session.execute(text(
        "UPDATE apportionment_runs SET next_membership_id = :hi WHERE id = :run AND next_membership_id = :lo"), params).rowcount
    if progressed != 1:
        raise Conflict("分摊批次状态异常，已回滚", code="run_chunk_inconsistent", details={"lo": lo})
    suspended = session.execute(_sql(
        f"UPDATE memberships SET {_SUSPEND_SET} WHERE id IN "
        f"(SELECT a.membership_id {_CANDIDATES} AND a.balance_fen < :share)", **moments), params).rowcount
    payers = session.execute(_sql(f"SELECT COUNT(*) {_CANDIDATES} AND a.balance_fen >= :share", **moments),
                             params).scalar_one()
    if payers:
        txn_id = session.execute(_sql(
            "INSERT INTO ledger_transactions (idempotency_key, request_hash, reason, reference_type, reference_id, "
            f"created_at) VALUES (:key, :hash, '{DEDUCTION_REASON}', '{RUN_REFERENCE}', :run_ref, :stamp) RETURNING id",
            stamp=run.execute_at), params).scalar_one()
        session.execute(_sql(
            "INSERT INTO postings (transaction_id, account_id, amount_fen) "
            f"SELECT :txn, a.id, -:share {_CANDIDATES} AND a.balance_fen >= :share "
            "UNION ALL SELECT :txn, :pool, :share * :payers", **moments), {**params, "txn": txn_id, "payers": payers})
        session.execute(text(
            "UPDATE accounts SET balance_fen = balance_fen - :share WHERE id IN "
            "(SELECT account_id FROM postings WHERE transaction_id = :txn AND account_id <> :pool)"),
            {**params, "txn": txn_id})
        session.execute(text("UPDATE accounts SET balance_fen = balance_fen + :share * :payers WHERE id = :pool"),
                        {**params, "payers": payers})
    session.execute(text(
        "UPDATE apportionment_runs SET debited_count = debited_count + :payers, "
        "debited_fen = debited_fen + :share * :payers, suspended_count = suspended_count + :suspended "
        "WHERE id = :run"), {**params, "payers": payers, "suspended": suspended})
    return ChunkResult(payers, suspended)


def execute(session: Session, run_id: int, now: dt.datetime, *, grace_days: int = DEFAULT_GRACE_DAYS,
            max_chunks: int | None = None, on_chunk: Callable[[int, int, ChunkResult], None] | None = None
            ) -> ApportionmentRun:
    """Debit every payer once, suspend those below the share, then settle. Idempotent and
    resumable: each chunk commits with its recovery point; run it again after any failure.
    `max_chunks` stops early (the run stays 'executing'), for operators and tests."""
    with atomic(session):
        run = get_run(session, run_id, for_update=True)
        if run.status == "executed":
            return run
        if run.status not in ("published", "executing"):
            raise Conflict("分摊需先公布才能执行", code="run_not_published", details={"status": run.status})
        if run.status == "published":
            run.status, run.execute_at = "executing", now
        plan_code = session.execute(select(Plan.code).where(Plan.id == run.plan_id)).scalar_one()
        pool = ledger.account_id(session, ledger.plan_account_code(plan_code, "plan_pool"))
    chunk = _chunk_postgresql if session.get_bind().dialect.name == "postgresql" else _chunk_sqlite
    done = 0
    while True:
        if max_chunks is not None and done >= max_chunks:
            return get_run(session, run_id)  # stopped early: still 'executing', resumable
        with atomic(session):
            run = get_run(session, run_id, for_update=True)  # one executor at a time
            lo = run.next_membership_id
            if lo >= run.end_membership_id or run.share_fen == 0:
                break
            hi = min(lo + run.chunk_size, run.end_membership_id)
            result = chunk(session, run, lo, hi, pool, grace_days)
        session.expire_all()
        done += 1
        if on_chunk:
            on_chunk(lo, hi, result)
    return settle(session, run_id, now)


def _ended_unpaid(session: Session, run: ApportionmentRun) -> int:
    """Candidates of the run whose membership ended (left, aided) after it was prepared without
    paying it: their balance was below the share, or an ending path did not withhold it."""
    paid = payers_select(run.id)
    return session.execute(select(func.count()).select_from(Membership).where(
        Membership.plan_id == run.plan_id, Membership.id >= run.first_membership_id,
        Membership.id < run.end_membership_id, Membership.state.in_(("left", "aided")),
        Membership.observation_starts_at <= run.cut_off_at, Membership.ended_at >= run.prepared_at,
        Membership.id.not_in(paid))).scalar_one()


def settle(session: Session, run_id: int, now: dt.datetime) -> ApportionmentRun:
    """Pool (+ surplus used) → each case's aid payable, the fee out, the rest to the surplus;
    the claims become 'collected'. Cases come first: a gap between the aid due and what was
    collected is covered from the rest of the plan's surplus when it can be, and what is still
    missing is recorded per case (shortfall) and carried by the next run as owed to that case."""
    with atomic(session):
        run = get_run(session, run_id, for_update=True)
        if run.status == "executed":
            return run
        if run.status != "executing" or (run.next_membership_id < run.end_membership_id and run.share_fen):
            raise Conflict("分摊尚未执行完毕", code="run_not_finished", details={"status": run.status})
        plan = session.get(Plan, run.plan_id)
        cases = list(session.execute(select(ApportionmentRunCase, Claim).join(Claim, Claim.id == ApportionmentRunCase.claim_id)
                                     .where(ApportionmentRunCase.run_id == run.id)
                                     .order_by(ApportionmentRunCase.position)).all())
        acct = {k: ledger.account_id(session, ledger.plan_account_code(plan.code, k))
                for k in ("plan_pool", "plan_surplus", "aid_payable")}
        # A claim withdrawn or rejected since prepare gets nothing; its share of the money stays in the plan.
        alive = [_still_owed(rc, claim) for rc, claim in cases]
        weights = [rc.due_aid_fen if ok else 0 for (rc, _), ok in zip(cases, alive)]
        ceilings = [rc.limited_aid_fen if ok else 0 for (rc, _), ok in zip(cases, alive)]
        available = run.debited_fen + run.surplus_used_fen
        surplus_left = ledger.balance_of(session, acct["plan_surplus"]) - run.surplus_used_fen
        cover = min(max(0, sum(weights) - available), surplus_left)
        aid_total = min(sum(ceilings), available + cover)
        parts = _aid_parts(aid_total, weights, ceilings)
        fee = min(fee_of(sum(ceilings), run.management_fee_bp), available + cover - aid_total)
        over = available + cover - aid_total - fee
        legs = [ledger.Leg(acct["plan_surplus"], -(run.surplus_used_fen + cover)),
                ledger.Leg(acct["plan_pool"], -run.debited_fen)]
        legs += [ledger.Leg(acct["aid_payable"], part) for part in parts]
        legs += [ledger.Leg(ledger.account_id(session, "system:fees_out"), fee), ledger.Leg(acct["plan_surplus"], over)]
        legs = [leg for leg in legs if leg.amount_fen]
        if legs:
            ledger.post_transaction(session, idempotency_key=f"run:{run.id}:settle", reason=SETTLE_REASON, legs=legs,
                                    now=now, reference_type=RUN_REFERENCE, reference_id=str(run.id))
        shortfall = 0
        for (rc, claim), weight, part in zip(cases, weights, parts):
            rc.collected_aid_fen = part
            owed = max(0, (rc.approved_aid_fen if rc.carried_from_id else weight) - part) if weight else 0
            rc.shortfall_fen, shortfall = owed, shortfall + owed
            if rc.carried_from_id and weight:
                claim.collected_aid_fen, claim.updated_at = (claim.collected_aid_fen or 0) + part, now
                events.record(session, "claim.aid_made_up", now=now, claim_id=claim.id, user_id=claim.user_id,
                              plan_id=run.plan_id, run_id=run.id, payload={"amount_fen": part, "still_owed_fen": owed})
            elif claim.status in CASE_STATUSES:
                before = claim.status
                claim.status, claim.collected_aid_fen, claim.collected_by_run_id, claim.updated_at = (
                    "collected", part, run.id, now)
                events.record(session, "claim.status_changed", now=now, claim_id=claim.id, user_id=claim.user_id,
                              plan_id=run.plan_id, run_id=run.id,
                              payload={"from": before, "to": "collected", "reason": f"run {run.id}"})
        run.status, run.executed_at = "executed", now
        run.aid_collected_fen, run.fee_collected_fen, run.over_collection_fen = aid_total, fee, over
        run.surplus_cover_fen, run.shortfall_fen = cover, shortfall
        run.ended_unpaid_count = _ended_unpaid(session, run)
        session.flush()
        run.surplus_after_fen = ledger.balance_of(session, acct["plan_surplus"])
        transparency.commit_run(session, run, now)  # the debits' Merkle root joins the plan's hash chain
        events.record(session, "run.executed", now=run.execute_at, plan_id=run.plan_id, run_id=run.id,
                      payload={"share_fen": run.share_fen, "payers": run.debited_count,
                               "suspended": run.suspended_count, "collected_fen": run.debited_fen})
    return run


def _aid_parts(total: int, due: list[int], ceilings: list[int]) -> list[int]:
    """Split the aid: up to what is due in proportion to it (no part above its due); beyond that
    (an unsettled run whose late payers brought more), up to each limited aid in proportion to
    the room left."""
    if total <= sum(due):
        return split_proportionally(total, due)
    room = [c - d for c, d in zip(ceilings, due)]
    return [d + extra for d, extra in zip(due, split_proportionally(total - sum(due), room))]


def _still_owed(rc: ApportionmentRunCase, claim: Claim) -> bool:
    """Does the case still get this row's aid? A first collection: the claim still waits for it;
    a carried amount: the claim's aid was collected (and maybe paid) and is still honoured."""
    return claim.status in (COLLECTED_STATUSES if rc.carried_from_id else CASE_STATUSES)


# --- selections for subscribers (notifications) -------------------------------------------
def payers_select(run_id: int):
    """Membership ids debited by a run (its chunk postings), for set-based fan-out."""
    return (select(Account.membership_id)
            .join(Posting, Posting.account_id == Account.id)
            .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
            .where(LedgerTransaction.reference_type == RUN_REFERENCE, LedgerTransaction.reference_id == str(run_id),
                   LedgerTransaction.reason == DEDUCTION_REASON, Account.kind == "member"))


def suspended_select(run: ApportionmentRun):
    """Memberships suspended by a run (still suspended): the batch stamped with its execute time."""
    return select(Membership.id).where(Membership.plan_id == run.plan_id, Membership.state == "suspended",
                                       Membership.suspended_at == run.execute_at)


# --- a counted payer whose membership ends before its chunk ---------------------------------
# domain.md: a payer counted when a run is prepared owes that run's share even if the membership
# ends before execution. Every ending path (leaving, aid paid) calls withhold_share in its own
# transaction and ends the membership in the same one, so the chunk, which only debits members
# in good standing, never sees it again.
WITHHELD_KEY = "run:{run}:withheld:{membership}"


def lock_open_run(session: Session, plan_id: int) -> ApportionmentRun | None:
    """The plan's open run, locked. Take it before the membership and its account: the order a
    chunk takes (run, memberships, accounts), so an ending and a chunk never deadlock, and the
    ending sees the recovery point the chunk committed."""
    return session.execute(select(ApportionmentRun).where(
        ApportionmentRun.plan_id == plan_id, ApportionmentRun.status.in_(("prepared", "published", "executing"))
    ).with_for_update().execution_options(populate_existing=True)).scalar_one_or_none()


def owes_share(run: ApportionmentRun | None, membership: Membership, balance_fen: int) -> bool:
    """Would this run's chunk debit the membership (in good standing at the cut-off, its chunk
    still ahead, the balance covering the share)?"""
    return (run is not None and run.share_fen > 0 and membership.plan_id == run.plan_id
            and membership.state in GOOD_STANDING and membership.observation_starts_at is not None
            and membership.observation_starts_at <= run.cut_off_at
            and max(run.next_membership_id, run.first_membership_id) <= membership.id < run.end_membership_id
            and balance_fen >= run.share_fen)


def withhold_share(session: Session, run: ApportionmentRun | None, membership: Membership, balance_fen: int,
                   now: dt.datetime, *, user_id: int | None = None) -> int:
    """Debit the run's share now, as its chunk would (caller's transaction: run locked first, then
    the membership and its account; the caller ends the membership in the same transaction).
    Returns the fen withheld (0 when the run would not debit this membership)."""
    if not owes_share(run, membership, balance_fen):
        return 0
    share = run.share_fen
    pool = ledger.account_id(session, ledger.plan_account_code(
        session.execute(select(Plan.code).where(Plan.id == run.plan_id)).scalar_one(), "plan_pool"))
    ledger.post_transaction(
        session, idempotency_key=WITHHELD_KEY.format(run=run.id, membership=membership.id), reason=DEDUCTION_REASON,
        legs=[ledger.Leg(_member_account(session, membership.id), -share), ledger.Leg(pool, share)],
        now=now, reference_type=RUN_REFERENCE, reference_id=str(run.id), initiated_by_user_id=user_id)
    session.execute(update(ApportionmentRun).where(ApportionmentRun.id == run.id).values(
        debited_count=ApportionmentRun.debited_count + 1, debited_fen=ApportionmentRun.debited_fen + share,
        withheld_count=ApportionmentRun.withheld_count + 1).execution_options(synchronize_session=False))
    return share


def _member_account(session: Session, membership_id: int) -> int:
    return session.execute(select(Account.id).where(Account.membership_id == membership_id)).scalar_one()


def _withheld_shares(session: Session, run: ApportionmentRun) -> list[tuple[int, int]]:
    """(membership id, fen) of the shares the run withheld from memberships that ended."""
    prefix = WITHHELD_KEY.format(run=run.id, membership="")
    return [(int(m), -int(fen)) for m, fen in session.execute(
        select(Account.membership_id, Posting.amount_fen)
        .join(Posting, Posting.account_id == Account.id)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(LedgerTransaction.reference_type == RUN_REFERENCE, LedgerTransaction.reference_id == str(run.id),
               LedgerTransaction.idempotency_key.startswith(prefix, autoescape=True), Account.kind == "member")
        .order_by(Account.membership_id)).all()]


# --- views --------------------------------------------------------------------------------
def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _cases_out(session: Session, run_ids: list[int]) -> dict[int, list[dict]]:
    rows = session.execute(
        select(ApportionmentRunCase, Claim, Membership.person_name_masked, Membership.birth_date)
        .join(Claim, Claim.id == ApportionmentRunCase.claim_id)
        .join(Membership, Membership.id == Claim.membership_id)
        .where(ApportionmentRunCase.run_id.in_(run_ids)).order_by(ApportionmentRunCase.position)
    ).all()
    carried_ids = [rc.carried_from_id for rc, *_ in rows if rc.carried_from_id]
    carried_from = dict(session.execute(select(ApportionmentRunCase.id, ApportionmentRunCase.run_id).where(
        ApportionmentRunCase.id.in_(carried_ids))).all()) if carried_ids else {}
    out: dict[int, list[dict]] = {rid: [] for rid in run_ids}
    for rc, claim, name, birth in rows:
        out[rc.run_id].append({
            "case_id": claim.id, "person": name, "age_years": _age(birth, claim.diagnosis_date),
            "incident_type": claim.incident_type, "diagnosis": claim.diagnosis, "city": claim.city,
            "approved_aid_fen": rc.approved_aid_fen, "limited_aid_fen": rc.limited_aid_fen,
            "due_aid_fen": rc.due_aid_fen, "collected_aid_fen": rc.collected_aid_fen,
            "shortfall_fen": rc.shortfall_fen, "carried_from_run_id": carried_from.get(rc.carried_from_id),
        })
    return out


def run_cases(session: Session, run_id: int) -> list[dict]:
    """A run's cases in order (masked names only), whatever its status: the operators' preview."""
    return _cases_out(session, [run_id])[run_id]


def run_out(run: ApportionmentRun, plan_code: str, cases: list[dict] | None = None) -> dict:
    body = {
        "id": run.id, "plan_code": plan_code, "status": run.status, "cut_off_at": run.cut_off_at,
        "published_at": run.published_at, "executed_at": run.executed_at, "case_count": run.case_count,
        "share_fen": run.share_fen, "share_cap_fen": run.share_cap_fen, "payer_count": run.payer_count,
        "low_balance_count": run.low_balance_count, "approved_aid_fen": run.approved_aid_fen,
        "limited_aid_fen": run.limited_aid_fen, "fee_fen": run.fee_fen, "management_fee_bp": run.management_fee_bp,
        "surplus_before_fen": run.surplus_before_fen, "surplus_used_fen": run.surplus_used_fen,
        "amount_fen": run.amount_fen, "paid_count": run.debited_count, "collected_fen": run.debited_fen,
        "suspended_count": run.suspended_count, "aid_collected_fen": run.aid_collected_fen,
        "fee_collected_fen": run.fee_collected_fen, "over_collection_fen": run.over_collection_fen,
        "surplus_after_fen": run.surplus_after_fen, "withheld_count": run.withheld_count,
        "ended_unpaid_count": run.ended_unpaid_count, "surplus_cover_fen": run.surplus_cover_fen,
        "shortfall_fen": run.shortfall_fen, "payer_set_settled": run.payer_set_settled,
        "payer_rounds": run.payer_rounds or [], "notes": run_notes(run),
    }
    if cases is not None:
        body["cases"] = cases
    return body


def run_notes(run: ApportionmentRun) -> list[str]:
    """What a reader needs to follow the numbers, in plain words."""
    yuan = fen_to_yuan_text
    notes = []
    if not run.payer_set_settled:
        cycle = "，".join(f"{r['payers']}人付款时每人{yuan(r['share_fen'])}（{r['able']}人付得起）"
                         for r in (run.payer_rounds or []))
        notes.append(f"付款人数没有稳定下来：{cycle}。按规则取循环中最小的份额{yuan(run.share_fen)}，"
                     f"付得起的{run.payer_count}人都付；每个案例的互助金以{yuan(run.share_cap_fen)}×{run.payer_count}人为限，"
                     f"筹得的全部金额（含结余抵扣）按限额比例分给各案例（各案例的应得金额见 due_aid_fen），"
                     f"不多收。")
    if run.status == "executed":
        diff = run.debited_count - run.payer_count
        parts = [f"公布时{run.payer_count}人付款，实际{run.debited_count}人付款"]
        if run.withheld_count:
            parts.append(f"其中{run.withheld_count}人在本期执行前退出或结束互助，份额在结束时已扣留")
        if run.ended_unpaid_count:
            parts.append(f"{run.ended_unpaid_count}人在执行前结束互助且未付款（余额不足份额）")
        if diff > 0:
            parts.append("多出的付款来自公布后充值、余额足以付款的会员，多收的钱进入计划结余")
        notes.append("；".join(parts) + "。")
        if run.surplus_cover_fen:
            notes.append(f"实际筹得的金额少于案例应得的互助金，已从计划结余补足{yuan(run.surplus_cover_fen)}。")
        if run.shortfall_fen:
            notes.append(f"结余不足以补齐，仍差{yuan(run.shortfall_fen)}，已记为欠各案例的金额，由下一期分摊补齐。")
    return notes


def public_runs(session: Session, plan_code: str, *, limit: int | None = None,
                before_id: int | None = None) -> list[dict]:
    """Newest first; a page of `limit` runs with ids below `before_id` (keyset) when given."""
    plan, _ = get_plan(session, plan_code)
    runs = session.execute(select(ApportionmentRun).where(
        ApportionmentRun.plan_id == plan.id, ApportionmentRun.status.in_(PUBLIC_STATUSES),
        *([ApportionmentRun.id < before_id] if before_id is not None else [])
    ).order_by(ApportionmentRun.id.desc()).limit(limit)).scalars().all()
    return [run_out(r, plan.code) for r in runs]


def public_run(session: Session, plan_code: str, run_id: int) -> dict:
    plan, _ = get_plan(session, plan_code)
    run = session.get(ApportionmentRun, run_id)
    if run is None or run.plan_id != plan.id or run.status not in PUBLIC_STATUSES:
        raise NotFound("没有找到这次分摊", code="run_not_found", details={"run_id": run_id})
    return run_out(run, plan.code, _cases_out(session, [run.id])[run.id])


def deductions(session: Session, membership_id: int, *, limit: int = 50) -> list[dict]:
    """The runs this membership paid, newest first, each with the share split across its cases
    in proportion to their limited aid (split_proportionally: parts sum exactly to the share)."""
    account = session.execute(select(Account.id).where(Account.membership_id == membership_id)).scalar_one()
    # From the member's own postings (a few a month, by index), never from the deduction transactions:
    # each of those has ~100,000 postings, and PostgreSQL, misjudging that, scanned them all (1 s per
    # request at 1M members after 3 runs, growing with every run; bench/api_load.py).
    own = (select(Posting.id, Posting.transaction_id, Posting.amount_fen).where(Posting.account_id == account)
           .cte("own_postings").prefix_with("MATERIALIZED"))
    rows = session.execute(
        select(LedgerTransaction.reference_id, own.c.amount_fen, LedgerTransaction.created_at)
        .select_from(own).join(LedgerTransaction, LedgerTransaction.id == own.c.transaction_id)
        .where(LedgerTransaction.reason == DEDUCTION_REASON, LedgerTransaction.reference_type == RUN_REFERENCE)
        .order_by(own.c.id.desc()).limit(limit)
    ).all()
    run_ids = [int(r.reference_id) for r in rows]
    if not run_ids:
        return []
    runs = {r.id: (r, code) for r, code in session.execute(
        select(ApportionmentRun, Plan.code).join(Plan, Plan.id == ApportionmentRun.plan_id)
        .where(ApportionmentRun.id.in_(run_ids))).all()}
    cases = _cases_out(session, run_ids)
    out = []
    for row, run_id in zip(rows, run_ids):
        run, code = runs[run_id]
        paid = -row.amount_fen
        run_cases = cases[run_id]
        parts = split_proportionally(paid, [c["limited_aid_fen"] for c in run_cases])
        out.append({
            "run_id": run_id, "plan_code": code, "paid_fen": paid, "share_fen": run.share_fen,
            "deducted_at": row.created_at, "status": run.status,
            "cases": [{**c, "part_fen": part} for c, part in zip(run_cases, parts)],
        })
    return out
