"""Read views of runs: what the API, the console and the CLI show (masked names only)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    PUBLIC_RUN_STATUSES, Account, ApportionmentRun, ApportionmentRunCase, Claim, Membership, Plan, Posting,
)
from app.models.ledger import LedgerTransaction

from ..errors import NotFound
from ..idcard import age_years
from ..money import fen_to_yuan_text
from ..plans import get_plan
from .arithmetic import split_proportionally
from .runs import DEDUCTION_REASON, RUN_REFERENCE, progress


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
            "case_id": claim.id, "person": name, "age_years": age_years(birth, claim.diagnosis_date),
            "incident_type": claim.incident_type, "diagnosis": claim.diagnosis, "city": claim.city,
            "approved_aid_fen": rc.approved_aid_fen, "limited_aid_fen": rc.limited_aid_fen,
            "due_aid_fen": rc.due_aid_fen, "collected_aid_fen": rc.collected_aid_fen,
            "shortfall_fen": rc.shortfall_fen, "carried_from_run_id": carried_from.get(rc.carried_from_id),
        })
    return out


def run_cases(session: Session, run_id: int) -> list[dict]:
    """A run's cases in order (masked names only), whatever its status: the operators' preview."""
    return _cases_out(session, [run_id])[run_id]


def run_out(run: ApportionmentRun, plan_code: str, cases: list[dict] | None = None,
            live: dict | None = None) -> dict:
    """`live`: runs.progress() of an executing run, whose chunks' counts join the run's at settlement."""
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
    if live is not None and run.status == "executing":
        body.update(paid_count=live["debited_count"], collected_fen=live["debited_fen"],
                    suspended_count=live["suspended_count"])
    if cases is not None:
        body["cases"] = cases
    return body


def run_view(session: Session, run: ApportionmentRun, plan_code: str, cases: list[dict] | None = None) -> dict:
    """run_out with an executing run's counts so far (its chunks')."""
    return run_out(run, plan_code, cases, progress(session, run) if run.status == "executing" else None)


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
        ApportionmentRun.plan_id == plan.id, ApportionmentRun.status.in_(PUBLIC_RUN_STATUSES),
        *([ApportionmentRun.id < before_id] if before_id is not None else [])
    ).order_by(ApportionmentRun.id.desc()).limit(limit)).scalars().all()
    return [run_view(session, r, plan.code) for r in runs]


def public_run(session: Session, plan_code: str, run_id: int) -> dict:
    plan, _ = get_plan(session, plan_code)
    run = session.get(ApportionmentRun, run_id)
    if run is None or run.plan_id != plan.id or run.status not in PUBLIC_RUN_STATUSES:
        raise NotFound("没有找到这次分摊", code="run_not_found", details={"run_id": run_id})
    return run_view(session, run, plan.code, _cases_out(session, [run.id])[run.id])


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
