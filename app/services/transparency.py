"""Verifiable runs: each executed run's debits form an RFC 6962 Merkle tree whose root joins the
plan's hash chain; a member proves their own debit is in it, anyone recomputes the root from the
published leaves, and `verify` recomputes every root from the ledger and the whole chain.

The tree, its leaves and how they are read from the ledger: app/services/run_tree.py; the members'
secrets (created with the membership; settlement creates a missing one only as a fallback):
app/services/membership_secrets.py.

A chain record's hash is SHA-256 of its canonical JSON (sorted keys, no spaces) including the
previous record's hash; the first record of a plan links to 64 zeros."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.models import ApportionmentRun, FinancialReport, MembershipSecret, Plan, TransparencyRecord

from . import merkle
from .errors import InvalidRequest, NotFound
from .plans import get_plan
from .run_tree import (DEDUCTION_REASON, RUN_REFERENCE, SecretGone, debits, drop_stored_leaves, leaf_bytes,
                       leaf_hashes, leaf_pages, pseudonym, run_tree)
from .unit_of_work import atomic

GENESIS = "0" * 64
MAX_LEAVES_PAGE = 10_000
RECORD_VERSION = 1


# --- the chain ----------------------------------------------------------------------------
def record_body(record: TransparencyRecord, plan_code: str) -> dict:
    body = {"v": RECORD_VERSION, "plan": plan_code, "sequence": record.sequence, "kind": record.kind,
            "previous": record.previous_hash}
    if record.kind == "run":
        body.update(run_id=record.run_id, tree_size=record.tree_size, total_fen=record.total_fen,
                    root=record.root_hash)
    else:
        body.update(report_id=record.report_id, content_sha256=record.content_sha256)
    return body


def canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def record_hash_of(body: dict) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


def append_record(session: Session, plan_id: int, now: dt.datetime, **fields) -> TransparencyRecord:
    """The plan's next link, inside the caller's transaction. The plan row is locked so two writers
    (a run settling, a report freezing) take turns; (plan, sequence) is unique besides."""
    plan = session.execute(select(Plan).where(Plan.id == plan_id).with_for_update()).scalar_one()
    head = session.execute(select(TransparencyRecord).where(TransparencyRecord.plan_id == plan_id)
                           .order_by(TransparencyRecord.sequence.desc()).limit(1)).scalar_one_or_none()
    record = TransparencyRecord(plan_id=plan_id, sequence=head.sequence + 1 if head else 1,
                                previous_hash=head.record_hash if head else GENESIS, created_at=now, **fields)
    record.record_hash = record_hash_of(record_body(record, plan.code))
    session.add(record)
    session.flush()
    return record


def commit_run(session: Session, run: ApportionmentRun, now: dt.datetime) -> TransparencyRecord:
    """Called by settlement, inside its transaction: the run's tree from its debits (the leaf hashes
    its chunks stored, the ledger for the rest), and its record appended to the plan's chain. Once
    per run."""
    existing = session.execute(select(TransparencyRecord).where(TransparencyRecord.run_id == run.id)).scalar_one_or_none()
    if existing is not None:
        return existing
    tree = run_tree(session, run.id, fill_missing=True, stored=True)
    drop_stored_leaves(session, run.id)
    return append_record(session, run.plan_id, now, kind="run", run_id=run.id, tree_size=tree.size,
                         total_fen=tree.total_fen, root_hash=tree.root.hex())


def record_out(record: TransparencyRecord, plan_code: str) -> dict:
    return {**record_body(record, plan_code), "record_hash": record.record_hash, "created_at": record.created_at}


def chain(session: Session, plan_code: str) -> list[dict]:
    plan, _ = get_plan(session, plan_code)
    records = session.execute(select(TransparencyRecord).where(TransparencyRecord.plan_id == plan.id)
                              .order_by(TransparencyRecord.sequence)).scalars()
    return [record_out(r, plan.code) for r in records]


def _run_record(session: Session, plan_code: str, run_id: int) -> tuple[Plan, TransparencyRecord]:
    plan, _ = get_plan(session, plan_code)
    record = session.execute(select(TransparencyRecord).where(
        TransparencyRecord.run_id == run_id, TransparencyRecord.plan_id == plan.id)).scalar_one_or_none()
    if record is None:
        raise NotFound("这次分摊还没有可核验的记录", code="run_record_not_found", details={"run_id": run_id})
    return plan, record


def run_record(session: Session, plan_code: str, run_id: int) -> dict:
    plan, record = _run_record(session, plan_code, run_id)
    return record_out(record, plan.code)


def leaves_page(session: Session, plan_code: str, run_id: int, *, offset: int, limit: int) -> dict:
    """Public: a page of the run's leaves (pseudonym and amount; nothing names a member)."""
    if not 1 <= limit <= MAX_LEAVES_PAGE or offset < 0:
        raise InvalidRequest("分页参数无效", code="page_invalid", details={"max_limit": MAX_LEAVES_PAGE})
    plan, record = _run_record(session, plan_code, run_id)
    items = []
    for index, debit in enumerate(debits(session, run_id, offset=offset), start=offset):
        if len(items) == limit:
            break
        if debit.secret is None:
            raise NotFound("分摊记录不完整", code="run_record_incomplete", details={"run_id": run_id})
        p = pseudonym(debit.secret, run_id)
        items.append({"index": index, "pseudonym": p.hex(), "amount_fen": debit.amount_fen,
                      "leaf": leaf_bytes(run_id, p, debit.amount_fen).hex()})
    following = offset + len(items)
    return {"run_id": run_id, "tree_size": record.tree_size, "root": record.root_hash, "items": items,
            "next_offset": following if following < record.tree_size else None}


def debit_proof(session: Session, membership_id: int, run_id: int) -> dict:
    """The member's own inclusion proof (the caller has checked the membership is theirs)."""
    run = session.get(ApportionmentRun, run_id)
    if run is None:
        raise NotFound("没有找到这次分摊", code="run_not_found", details={"run_id": run_id})
    plan_code = session.get(Plan, run.plan_id).code
    _, record = _run_record(session, plan_code, run_id)
    mine = session.execute(text(
        "SELECT p.id, p.transaction_id, -p.amount_fen FROM postings p JOIN accounts a ON a.id = p.account_id "
        "WHERE a.membership_id = :m AND a.kind = 'member' AND p.transaction_id IN "
        "(SELECT id FROM ledger_transactions WHERE reference_type = :ref AND reference_id = :run AND reason = :reason)"),
        {"m": membership_id, "ref": RUN_REFERENCE, "run": str(run_id), "reason": DEDUCTION_REASON}).first()
    if mine is None:
        raise NotFound("这次分摊没有从这份互助扣款", code="debit_not_found", details={"run_id": run_id})
    posting_id, txn = int(mine[0]), int(mine[1])
    index = session.execute(text(
        "SELECT COUNT(*) FROM postings p JOIN accounts a ON a.id = p.account_id WHERE a.kind = 'member' "
        "AND p.transaction_id IN (SELECT id FROM ledger_transactions WHERE reference_type = :ref "
        "AND reference_id = :run AND reason = :reason) AND (p.transaction_id < :txn OR (p.transaction_id = :txn "
        "AND p.id < :posting))"),
        {"ref": RUN_REFERENCE, "run": str(run_id), "reason": DEDUCTION_REASON, "txn": txn,
         "posting": posting_id}).scalar_one()
    hashes = (h for rows in leaf_pages(session, run_id) for h in leaf_hashes(run_id, rows))
    try:
        path, _, root = merkle.inclusion_proof_of_hashes(hashes, int(index), record.tree_size)
    except SecretGone:
        raise NotFound("分摊记录不完整", code="run_record_incomplete", details={"run_id": run_id}) from None
    secret, amount = session.get(MembershipSecret, membership_id).secret, int(mine[2])
    leaf = leaf_bytes(run_id, pseudonym(secret, run_id), amount)  # the one hashed at `index` (its posting)
    return {
        "run_id": run_id, "plan_code": plan_code, "member_secret": secret.hex(),
        "pseudonym": pseudonym(secret, run_id).hex(), "amount_fen": amount,
        "leaf": leaf.hex(), "leaf_index": int(index), "tree_size": record.tree_size,
        "audit_path": [h.hex() for h in path], "root": record.root_hash, "computed_root": root.hex(),
        "record": record_out(record, plan_code),
    }


# --- verification -------------------------------------------------------------------------
@dataclass
class VerifyReport:
    checked_runs: int = 0
    checked_reports: int = 0
    checked_records: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_record(session: Session, plan: Plan, record: TransparencyRecord, previous: str,
                  expected_sequence: int, report: VerifyReport) -> str | None:
    """The first problem with this record, or None."""
    what = f"plan {plan.code} record {record.sequence}"
    if record.kind == "run":
        what = f"run {record.run_id} ({what})"
    if record.sequence != expected_sequence:
        return f"{what}: sequence {record.sequence}, expected {expected_sequence}"
    if record.previous_hash != previous:
        return f"{what}: previous hash {record.previous_hash} does not link to {previous}"
    if record_hash_of(record_body(record, plan.code)) != record.record_hash:
        return f"{what}: record hash does not match its content"
    report.checked_records += 1
    if record.kind == "run":
        report.checked_runs += 1
        tree = run_tree(session, record.run_id)
        if tree.missing_secret is not None:
            return f"{what}: membership {tree.missing_secret} has no secret, its leaf cannot be recomputed"
        if (tree.size, tree.total_fen, tree.root.hex()) != (record.tree_size, record.total_fen, record.root_hash):
            return (f"{what}: the ledger's debits give {tree.size} leaves, {tree.total_fen} fen, root "
                    f"{tree.root.hex()}; published {record.tree_size} leaves, {record.total_fen} fen, root "
                    f"{record.root_hash}")
    else:
        report.checked_reports += 1
        frozen = session.get(FinancialReport, record.report_id)
        actual = hashlib.sha256(frozen.body.encode()).hexdigest()
        if actual != record.content_sha256 or actual != frozen.sha256:
            return f"{what}: report {frozen.period} hashes to {actual}, published {record.content_sha256}"
    return None


def verify(session: Session) -> VerifyReport:
    """Every plan's chain link by link, every run root recomputed from the ledger's postings, every
    frozen report's hash; and every executed run has its record. Stops at the first break."""
    report = VerifyReport()
    for plan in session.execute(select(Plan).order_by(Plan.id)).scalars():
        previous = GENESIS
        records = session.execute(select(TransparencyRecord).where(TransparencyRecord.plan_id == plan.id)
                                  .order_by(TransparencyRecord.sequence)).scalars().all()
        for expected, record in enumerate(records, start=1):
            problem = _check_record(session, plan, record, previous, expected, report)
            if problem:
                report.problems.append(problem)
                return report
            previous = record.record_hash
        unrecorded = session.execute(
            select(ApportionmentRun.id).where(ApportionmentRun.plan_id == plan.id,
                                              ApportionmentRun.status == "executed",
                                              ~select(TransparencyRecord.id).where(
                                                  TransparencyRecord.run_id == ApportionmentRun.id).exists())
            .order_by(ApportionmentRun.id).limit(1)).scalar_one_or_none()
        if unrecorded is not None:
            report.problems.append(f"run {unrecorded} (plan {plan.code}): executed but not in the plan's chain")
            return report
    return report


def commit_missing(session: Session, now: dt.datetime) -> list[int]:
    """Executed runs without a record (executed before this feature), committed in run order."""
    done = []
    ids = session.execute(select(ApportionmentRun.id).where(
        ApportionmentRun.status == "executed",
        ~select(TransparencyRecord.id).where(TransparencyRecord.run_id == ApportionmentRun.id).exists())
        .order_by(ApportionmentRun.id)).scalars().all()
    for run_id in ids:
        with atomic(session):
            commit_run(session, session.get(ApportionmentRun, run_id), now)
        done.append(run_id)
    return done


def run_verification(session: Session, run_id: int) -> tuple[str, TransparencyRecord | None, str | None]:
    """One run: ("verified" | "mismatch" | "unrecorded", its record, the problem). Its record's link to
    the plan's previous record and its hash are checked, and its root recomputed from the ledger."""
    record = session.execute(select(TransparencyRecord).where(TransparencyRecord.run_id == run_id)).scalar_one_or_none()
    if record is None:
        return "unrecorded", None, None
    previous = GENESIS if record.sequence == 1 else session.execute(select(TransparencyRecord.record_hash).where(
        TransparencyRecord.plan_id == record.plan_id, TransparencyRecord.sequence == record.sequence - 1)
    ).scalar_one_or_none()
    problem = _check_record(session, session.get(Plan, record.plan_id), record, previous or "(missing)",
                            record.sequence, VerifyReport())
    return ("mismatch" if problem else "verified"), record, problem


def run_records(session: Session, run_ids: list[int]) -> dict[int, TransparencyRecord]:
    if not run_ids:
        return {}
    return {r.run_id: r for r in session.execute(select(TransparencyRecord).where(
        TransparencyRecord.run_id.in_(run_ids))).scalars()}
