"""Concurrent writers on PostgreSQL: credits to one account from many threads lose nothing."""
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.services import ledger, memberships
from app.services.audit import audit_ledger
from app.services.memberships import JoinRequest
from app.services.unit_of_work import atomic
from app.services.users import new_invite_code
from app.models import User
from tests.support import join_consented, make_id_number, no_answers, years_ago


@pytest.fixture
def pg_engine(postgresql_url, app):
    if not postgresql_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    engine = sa.create_engine(postgresql_url, pool_size=10)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_parallel_credits_and_replays(pg_engine, services, clock):
    with Session(pg_engine) as s, atomic(s):
        user = User(openid="o-conc", invite_code=new_invite_code(), created_at=clock.now(), last_login_at=clock.now())
        s.add(user)
        s.flush()
        user_id = user.id
    with Session(pg_engine) as s:
        m = join_consented(s, services.pii, user_id=user_id, now=clock.now(), request=JoinRequest(
            "adult_789", "钱七", make_id_number(years_ago(clock.now().date(), 33)), "self", no_answers()))
        membership_id = m.id
    errors = []

    def worker(n):
        try:
            with Session(pg_engine) as s:
                for i in range(20):
                    # Every key is sent twice by two different threads: credited once.
                    key = f"conc-{(n // 2)}-{i}"
                    with atomic(s):
                        memberships.credit(s, membership_id=membership_id, amount_fen=100, idempotency_key=key,
                                           now=clock.now())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with Session(pg_engine) as s:
        acct = memberships.member_account_id(s, membership_id)
        assert ledger.balance_of(s, acct) == 4 * 20 * 100
        assert audit_ledger(s).ok
