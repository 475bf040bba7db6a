"""A run's lifecycle around its execution: prepare (freeze the numbers), publish, cancel, and settle
(pool → each case's aid, the fee, the surplus). Execution itself, in chunks: engine.py."""
from __future__ import annotations

import datetime as dt
from typing import Callable

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from app.models import (
    COLLECTABLE_CLAIM_STATUSES, COLLECTED_CLAIM_STATUSES, GOOD_STANDING, ApportionmentRun, ApportionmentRunCase, Claim,
    ClaimObjection, DomainEvent, Membership, Plan, PlanVersion,
)

from .. import events, ledger, refund_orders, rule_changes, transparency
from ..errors import Conflict, InvalidRequest
from ..plans import get_plan
from ..sql import without_jit
from ..unit_of_work import atomic
from .arithmetic import aid_parts, fee_of, planned_split, solve_share
from .runs import (
    DEFAULT_CHUNK_SIZE, GOOD_STANDING_SQL, RUN_REFERENCE, SETTLE_REASON, WITHHELD_RETURNED_REASON, chunk_totals,
    find_open_run, get_run, member_account_id, payers_select, sql_text,
)
from .withholding import withheld_shares


_Owed = aliased(ApportionmentRunCase, name="owed")  # an earlier run's row, in a query over carried rows


def _candidates_histogram(session: Session, plan_id: int, cut_off: dt.datetime, clamp: int) -> list[tuple[int, int]]:
    rows = session.execute(sql_text(
        "SELECT CASE WHEN a.balance_fen >= :clamp THEN :clamp ELSE a.balance_fen END AS b, COUNT(*) AS n "
        "FROM memberships m JOIN accounts a ON a.membership_id = m.id "
        f"WHERE m.plan_id = :plan AND m.state IN {GOOD_STANDING_SQL} AND m.observation_starts_at <= :cut_off "
        "GROUP BY 1", cut_off=cut_off), {"plan": plan_id, "clamp": clamp}).all()
    return sorted((int(b), int(n)) for b, n in rows)


def _counter(histogram: list[tuple[int, int]]) -> Callable[[int], int]:
    def count_at_least(share: int) -> int:
        return sum(n for b, n in histogram if b >= share)

    return count_at_least


def _eligible_cases(session: Session, plan_id: int, cut_off: dt.datetime) -> list[Claim]:
    in_a_run = select(ApportionmentRunCase.id).where(
        ApportionmentRunCase.claim_id == Claim.id, ApportionmentRunCase.active.is_(True)).exists()
    # A case challenged during publicity waits until a reviewer has ruled on the objection.
    challenged = select(ClaimObjection.id).where(
        ClaimObjection.claim_id == Claim.id, ClaimObjection.status == "pending").exists()
    return list(session.execute(
        select(Claim).where(
            Claim.plan_id == plan_id, Claim.status.in_(COLLECTABLE_CLAIM_STATUSES), Claim.publicity_ends_at <= cut_off,
            Claim.approved_aid_fen.is_not(None), ~in_a_run, ~challenged,
        ).order_by(Claim.publicity_ends_at, Claim.id)
    ).scalars())


def _run_version(session: Session, plan_id: int, cut_off: dt.datetime, current: PlanVersion) -> PlanVersion:
    """The rule version a run uses: each membership keeps the version it joined under and a rule
    change needs its consent. Once a rule-change proposal of the plan has passed, the run uses the
    version in force at its cut-off (by the effective dates). Otherwise the candidates' version (the
    current one when they hold it or there are none), refusing while candidates hold versions
    whose share cap or management fee differ: one share cannot honour both."""
    # --- rule changes (app/services/rule_changes/, docs/rule-changes.md) ---
    in_force = rule_changes.version_in_force(session, plan_id, cut_off)
    if in_force is not None:
        return in_force
    # --- end rule changes ---
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
               _Owed.shortfall_fen > 0, Claim.status.in_(COLLECTED_CLAIM_STATUSES), ~carried)
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
        if find_open_run(session, plan.id) is not None:
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
    withheld = withheld_shares(session, run)
    if not withheld:
        return
    plan_code = session.execute(select(Plan.code).where(Plan.id == run.plan_id)).scalar_one()
    pool = ledger.account_id(session, ledger.plan_account_code(plan_code, "plan_pool"))
    for membership_id, fen in withheld:
        ledger.post_transaction(
            session, idempotency_key=f"run:{run.id}:withheld-returned:{membership_id}", reason=WITHHELD_RETURNED_REASON,
            legs=[ledger.Leg(pool, -fen), ledger.Leg(member_account_id(session, membership_id), fen)],
            now=now, reference_type=RUN_REFERENCE, reference_id=str(run.id))
        state = session.execute(select(Membership.state).where(Membership.id == membership_id)).scalar_one()
        if state == "left":  # an aided membership keeps its balance, as it would have without the run
            refund_orders.refund_to_payments(session, membership_id=membership_id, amount_fen=fen,
                                             key=f"run:{run.id}:withheld-refund:{membership_id}", now=now,
                                             user_id=None)


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
        without_jit(session)
        run = get_run(session, run_id, for_update=True)
        if run.status == "executed":
            return run
        done, chunks, chunk_count, chunk_fen, chunk_suspended = chunk_totals(session, run.id)
        uncut = not chunks and run.share_fen and run.next_membership_id < run.end_membership_id
        if run.status != "executing" or done < chunks or uncut:
            raise Conflict("分摊尚未执行完毕", code="run_not_finished", details={"status": run.status})
        # The chunks' counters join the run's (which hold the shares withheld at leaving): once,
        # in the transaction that marks the run executed.
        run.debited_count += chunk_count
        run.debited_fen += chunk_fen
        run.suspended_count += chunk_suspended
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
        parts = aid_parts(aid_total, weights, ceilings)
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
            elif claim.status in COLLECTABLE_CLAIM_STATUSES:
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
    return run


def announce_executed(session: Session, run_id: int) -> ApportionmentRun:
    """Record `run.executed` once, in a transaction of its own after settlement's. Its subscribers write
    every payer's notices (outbox: seconds at a million payers, about a minute at ten million), and a
    member's leave waits on the run's row while the run is open (withholding.lock_open_run): inside
    settlement, the leave would wait for all of them, past the request timeout. Once settlement has
    committed the run as executed, a leave no longer matches that lock, so nobody waits for this one.
    A crash in between: the next settle_if_done or execute of the run records it, as does the
    scheduler's sweep (jobs.apportionment.execute_due, unannounced_runs)."""
    with atomic(session):
        without_jit(session)
        run = get_run(session, run_id, for_update=True)  # one announcement, however many workers ask
        if run.status != "executed" or session.execute(_ANNOUNCED, {"run": run.id}).first() is not None:
            return run
        events.record(session, "run.executed", now=run.execute_at, plan_id=run.plan_id, run_id=run.id,
                      payload={"share_fen": run.share_fen, "payers": run.debited_count,
                               "suspended": run.suspended_count, "collected_fen": run.debited_fen})
    return run


_ANNOUNCED = select(DomainEvent.id).where(DomainEvent.kind == "run.executed",
                                          DomainEvent.run_id == bindparam("run")).limit(1)


def unannounced_runs(session: Session) -> list[int]:
    """Executed runs whose `run.executed` was never recorded (a crash between settlement and its
    announcement)."""
    announced = select(DomainEvent.id).where(DomainEvent.kind == "run.executed",
                                             DomainEvent.run_id == ApportionmentRun.id).exists()
    return list(session.execute(select(ApportionmentRun.id).where(ApportionmentRun.status == "executed", ~announced)
                                .order_by(ApportionmentRun.id)).scalars())


def _still_owed(rc: ApportionmentRunCase, claim: Claim) -> bool:
    """Does the case still get this row's aid? A first collection: the claim still waits for it;
    a carried amount: the claim's aid was collected (and maybe paid) and is still honoured."""
    return claim.status in (COLLECTED_CLAIM_STATUSES if rc.carried_from_id else COLLECTABLE_CLAIM_STATUSES)
