"""`flask ledger audit`: every invariant of the ledger, checked against the database.

Each check is one aggregate query; the first offender is named so an operator can look."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.models import EXTERNAL_KINDS


@dataclass
class AuditReport:
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_INTERNAL_KINDS_SQL = "('member','plan_pool','plan_surplus','aid_payable','refund_pending')"
_EXTERNAL_KINDS_SQL = "(" + ",".join(f"'{k}'" for k in EXTERNAL_KINDS) + ")"


def audit_ledger(session: Session) -> AuditReport:
    report = AuditReport()
    run = session.execute

    report.checks.append("every transaction sums to zero")
    row = run(text(
        "SELECT t.idempotency_key, SUM(p.amount_fen) AS total FROM postings p "
        "JOIN ledger_transactions t ON t.id = p.transaction_id "
        "GROUP BY t.id, t.idempotency_key HAVING SUM(p.amount_fen) <> 0 ORDER BY t.id LIMIT 1"
    )).first()
    if row:
        report.problems.append(f"transaction {row.idempotency_key} sums to {row.total} fen, not 0")

    # No row-level foreign keys on postings (migration 0020): the database checks each inserting
    # statement; this proves it held for every posting, whatever wrote it.
    report.checks.append("every posting references an existing account and ledger transaction")
    row = run(text(
        "SELECT p.id, p.account_id, p.transaction_id FROM postings p "
        "WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = p.account_id) "
        "OR NOT EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.id = p.transaction_id) ORDER BY p.id LIMIT 1"
    )).first()
    if row:
        report.problems.append(
            f"posting {row.id} references a missing account {row.account_id} or transaction {row.transaction_id}"
        )

    report.checks.append("every transaction has at least two postings")
    row = run(text(
        "SELECT t.idempotency_key FROM ledger_transactions t LEFT JOIN postings p ON p.transaction_id = t.id "
        "GROUP BY t.id, t.idempotency_key HAVING COUNT(p.id) < 2 ORDER BY t.id LIMIT 1"
    )).first()
    if row:
        report.problems.append(f"transaction {row.idempotency_key} has fewer than two postings")

    report.checks.append("every cached balance equals the sum of its postings")
    row = run(text(
        "SELECT a.code, a.balance_fen, COALESCE(s.total, 0) AS total FROM accounts a "
        "LEFT JOIN (SELECT account_id, SUM(amount_fen) AS total FROM postings GROUP BY account_id) s "
        "ON s.account_id = a.id WHERE a.balance_fen <> COALESCE(s.total, 0) ORDER BY a.id LIMIT 1"
    )).first()
    if row:
        report.problems.append(
            f"account {row.code}: cached balance {row.balance_fen} fen but its postings sum to {row.total} fen"
        )

    report.checks.append("no balance below zero")
    row = run(text(
        "SELECT code, balance_fen FROM accounts WHERE NOT allow_negative AND balance_fen < 0 ORDER BY id LIMIT 1"
    )).first()
    if row:
        report.problems.append(f"account {row.code} has a negative balance of {row.balance_fen} fen")

    # Σ member balances + Σ pools + Σ surplus + aid payable + refunds pending
    #   = Σ top-ups − Σ refunds − Σ aid paid − Σ fees   (domain.md, "Money and custody")
    report.checks.append("conservation: money held = top-ups − refunds − aid paid − fees")
    held = run(text(
        f"SELECT COALESCE(SUM(balance_fen), 0) FROM accounts WHERE kind IN {_INTERNAL_KINDS_SQL}"
    )).scalar_one()
    flows = dict(run(text(
        "SELECT a.kind, COALESCE(SUM(p.amount_fen), 0) FROM accounts a JOIN postings p ON p.account_id = a.id "
        f"WHERE a.kind IN {_EXTERNAL_KINDS_SQL} GROUP BY a.kind"
    )).all())
    topups = -flows.get("wechat_pay_in", 0)
    refunds = flows.get("refunds_out", 0)
    aid_paid = flows.get("aid_paid_out", 0)
    fees = flows.get("fees_out", 0)
    expected = topups - refunds - aid_paid - fees
    if held != expected:
        report.problems.append(
            f"conservation broken: internal accounts hold {held} fen but top-ups {topups} − refunds {refunds} "
            f"− aid paid {aid_paid} − fees {fees} = {expected} fen"
        )
    return report
