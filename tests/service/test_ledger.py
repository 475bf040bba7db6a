import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings, strategies as st

from app.services import ledger
from app.services.audit import audit_ledger
from app.services.errors import IdempotencyConflict, InsufficientBalance, UnbalancedTransaction
from app.services.unit_of_work import atomic


def _accounts(session, now):
    with atomic(session):
        a = ledger.ensure_account(session, code="test:a", kind="member", now=now)
        b = ledger.ensure_account(session, code="test:b", kind="member", now=now)
        src = ledger.account_id(session, "system:wechat_pay_in")
    return a, b, src


def _post(session, now, key, legs, reason="topup"):
    with atomic(session):
        return ledger.post_transaction(session, idempotency_key=key, reason=reason, legs=legs, now=now)


def test_posting_moves_balances_and_audits(session, clock):
    a, b, src = _accounts(session, clock.now())
    _post(session, clock.now(), "t1", [ledger.Leg(a, 500), ledger.Leg(src, -500)])
    _post(session, clock.now(), "t2", [ledger.Leg(a, -200), ledger.Leg(b, 200)], reason="transfer")
    assert ledger.balance_of(session, a) == 300
    assert ledger.balance_of(session, b) == 200
    assert ledger.balance_of(session, src) == -500
    assert audit_ledger(session).ok


def test_replayed_key_returns_first_result_and_changes_nothing(session, clock):
    a, _, src = _accounts(session, clock.now())
    first = _post(session, clock.now(), "same", [ledger.Leg(a, 300), ledger.Leg(src, -300)])
    again = _post(session, clock.now(), "same", [ledger.Leg(src, -300), ledger.Leg(a, 300)])
    assert again.replayed and again.id == first.id and not first.replayed
    assert ledger.balance_of(session, a) == 300


def test_same_key_with_other_content_is_refused(session, clock):
    a, _, src = _accounts(session, clock.now())
    _post(session, clock.now(), "k", [ledger.Leg(a, 300), ledger.Leg(src, -300)])
    with pytest.raises(IdempotencyConflict):
        _post(session, clock.now(), "k", [ledger.Leg(a, 301), ledger.Leg(src, -301)])
    assert ledger.balance_of(session, a) == 300


@pytest.mark.parametrize("legs", [
    [(0, 100), (2, -99)],
    [(0, 100)],
    [(0, 0), (2, 0)],
    [(0, 1.5), (2, -1.5)],
])
def test_unbalanced_or_non_integer_legs_are_refused(session, clock, legs):
    ids = _accounts(session, clock.now())
    with pytest.raises(UnbalancedTransaction):
        _post(session, clock.now(), "bad", [ledger.Leg(ids[i], amount) for i, amount in legs])
    assert session.execute(sa.text("SELECT COUNT(*) FROM ledger_transactions")).scalar() == 0


def test_no_balance_goes_below_zero(session, clock):
    a, b, src = _accounts(session, clock.now())
    _post(session, clock.now(), "in", [ledger.Leg(a, 100), ledger.Leg(src, -100)])
    with pytest.raises(InsufficientBalance):
        _post(session, clock.now(), "out", [ledger.Leg(a, -101), ledger.Leg(b, 101)])
    assert ledger.balance_of(session, a) == 100
    assert session.execute(sa.text("SELECT COUNT(*) FROM ledger_transactions WHERE idempotency_key='out'")).scalar() == 0
    assert audit_ledger(session).ok


def test_audit_names_a_tampered_account(session, clock):
    a, _, src = _accounts(session, clock.now())
    _post(session, clock.now(), "in", [ledger.Leg(a, 100), ledger.Leg(src, -100)])
    with atomic(session):
        session.execute(sa.text("UPDATE accounts SET balance_fen = balance_fen + 1 WHERE code = 'test:a'"))
    report = audit_ledger(session)
    assert not report.ok
    assert "test:a" in report.problems[0]


moves = st.lists(st.tuples(st.sampled_from(["top_up", "transfer", "replay"]), st.sampled_from([0, 1]),
                           st.integers(min_value=1, max_value=10_000)), min_size=1, max_size=14)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves)
def test_random_moves_agree_with_a_model_of_the_balances(session, clock, moves):
    """Top-ups, transfers between two members and replayed keys, checked step by step against a
    model: the model says when a transfer must be refused (InsufficientBalance, nothing written)
    and what every balance is after each step."""
    example = uuid.uuid4().hex  # examples share the database: accounts and keys are the example's own
    with atomic(session):
        ids = [ledger.ensure_account(session, code=f"test:{example}:{k}", kind="member", now=clock.now())
               for k in (0, 1)]
    src = ledger.account_id(session, "system:wechat_pay_in")
    model = {ids[0]: 0, ids[1]: 0, src: ledger.balance_of(session, src)}
    posted: list[tuple[str, list]] = []  # (key, legs) of every accepted transaction
    for n, (kind, target, amount) in enumerate(moves):
        key = f"prop-{example}-{n}"
        if kind == "top_up":
            legs = [ledger.Leg(ids[target], amount), ledger.Leg(src, -amount)]
        elif kind == "transfer":
            legs = [ledger.Leg(ids[target], -amount), ledger.Leg(ids[1 - target], amount)]
        elif posted:  # the same key and legs again: the first result, nothing moves
            key, legs = posted[amount % len(posted)]
            assert _post(session, clock.now(), key, legs).replayed
            legs = None
        else:
            continue
        if legs is not None:
            if all(model[leg.account_id] + leg.amount_fen >= 0 or leg.account_id == src for leg in legs):
                assert not _post(session, clock.now(), key, legs).replayed
                for leg in legs:
                    model[leg.account_id] += leg.amount_fen
                posted.append((key, legs))
            else:
                event("a move the model refuses")
                with pytest.raises(InsufficientBalance):
                    _post(session, clock.now(), key, legs)
                assert session.execute(sa.text("SELECT COUNT(*) FROM ledger_transactions WHERE idempotency_key = :k"),
                                       {"k": key}).scalar_one() == 0
        assert {a: ledger.balance_of(session, a) for a in model} == model, (n, kind)
    transactions = session.execute(sa.text("SELECT COUNT(*) FROM ledger_transactions WHERE idempotency_key LIKE :p"),
                                   {"p": f"prop-{example}-%"}).scalar_one()
    assert transactions == len(posted)
    report = audit_ledger(session)
    assert report.ok, report.problems


def test_postgres_refuses_unbalanced_postings_and_edits(session, clock):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("database-level guards are PostgreSQL's")
    a, _, src = _accounts(session, clock.now())
    tx = _post(session, clock.now(), "in", [ledger.Leg(a, 100), ledger.Leg(src, -100)])
    with pytest.raises(sa.exc.DBAPIError, match="does not sum to zero"):
        with atomic(session):
            session.execute(sa.text(f"INSERT INTO postings (transaction_id, account_id, amount_fen) VALUES ({tx.id}, {a}, 5)"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with atomic(session):
            session.execute(sa.text("UPDATE postings SET amount_fen = amount_fen * 2"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with atomic(session):
            session.execute(sa.text("DELETE FROM ledger_transactions"))
    assert audit_ledger(session).ok


def _missing_ids(session):
    return (session.execute(sa.text("SELECT COALESCE(MAX(id), 0) + 1000 FROM accounts")).scalar_one(),
            session.execute(sa.text("SELECT COALESCE(MAX(id), 0) + 1000 FROM ledger_transactions")).scalar_one())


def test_a_posting_to_a_missing_account_or_transaction_is_refused(session, clock):
    """No row-level foreign keys on postings (migration 0020): PostgreSQL refuses the statement in its
    statement trigger, SQLite in its row trigger; a balanced statement too."""
    a, _, src = _accounts(session, clock.now())
    tx = _post(session, clock.now(), "in", [ledger.Leg(a, 100), ledger.Leg(src, -100)])
    missing_account, missing_txn = _missing_ids(session)
    for txn_id, account in ((tx.id, missing_account), (missing_txn, a)):
        with pytest.raises(sa.exc.IntegrityError, match="missing (account|ledger transaction)"):
            with atomic(session):
                session.execute(sa.text(
                    "INSERT INTO postings (transaction_id, account_id, amount_fen) VALUES (:t, :acc, 7), (:t, :src, -7)"),
                    {"t": txn_id, "acc": account, "src": src})
    assert session.execute(sa.text("SELECT COUNT(*) FROM postings")).scalar_one() == 2
    assert audit_ledger(session).ok


def test_an_account_with_postings_cannot_be_deleted_nor_renumbered(session, clock):
    a, _, src = _accounts(session, clock.now())
    _post(session, clock.now(), "in", [ledger.Leg(a, 100), ledger.Leg(src, -100)])
    with pytest.raises(sa.exc.IntegrityError, match="never deleted"):
        with atomic(session):
            session.execute(sa.text("DELETE FROM accounts WHERE id = :a"), {"a": a})
    with pytest.raises(sa.exc.IntegrityError, match="renumbered"):
        with atomic(session):
            session.execute(sa.text("UPDATE accounts SET id = id + 100000 WHERE id = :a"), {"a": a})
    assert ledger.balance_of(session, a) == 100
    assert audit_ledger(session).ok


def test_audit_finds_a_dangling_posting(session, clock):
    """A posting written past the database's checks (triggers off: PostgreSQL's replica role; SQLite's
    trigger dropped for the test) is named by the audit."""
    a, _, src = _accounts(session, clock.now())
    tx = _post(session, clock.now(), "in", [ledger.Leg(a, 100), ledger.Leg(src, -100)])
    missing_account, _ = _missing_ids(session)
    postgresql = session.get_bind().dialect.name == "postgresql"
    with atomic(session):
        if postgresql:
            session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        else:  # dropped and re-created in this transaction: the schema is the migrated one after it
            session.execute(sa.text("DROP TRIGGER postings_references"))
        session.execute(sa.text(
            "INSERT INTO postings (transaction_id, account_id, amount_fen) VALUES (:t, :acc, 7), (:t, :src, -7)"),
            {"t": tx.id, "acc": missing_account, "src": src})
        if not postgresql:
            session.execute(sa.text(_migration_0020().SQLITE_TRIGGERS[0]))
    report = audit_ledger(session)
    assert not report.ok
    assert f"references a missing account {missing_account}" in report.problems[0]


def _migration_0020():
    import importlib.util

    from config import PROJECT_ROOT

    path = PROJECT_ROOT / "migrations" / "versions" / "0020_ledger_integrity_per_statement.py"
    spec = importlib.util.spec_from_file_location("migration_0020", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
