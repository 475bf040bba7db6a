"""The transaction helpers (app/services/unit_of_work.py) on an in-memory SQLite database of one table."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, scoped_session, sessionmaker

from app.services.unit_of_work import atomic, outside_transaction, reading


class _Base(DeclarativeBase):
    pass


class Row(_Base):
    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str]


@pytest.fixture(params=["session", "scoped_session"])
def session(request):
    engine = sa.create_engine("sqlite://")
    _Base.metadata.create_all(engine)
    made = Session(engine) if request.param == "session" else scoped_session(sessionmaker(engine))
    yield made
    made.close()
    engine.dispose()


def _in_transaction(session) -> bool:
    return (session() if isinstance(session, scoped_session) else session).in_transaction()


def _count(session) -> int:
    with reading(session):
        return session.execute(sa.select(sa.func.count()).select_from(Row)).scalar_one()


def test_atomic_commits_or_rolls_back_everything(session):
    with atomic(session):
        session.add(Row(value="kept"))
    with pytest.raises(ValueError), atomic(session):
        session.add(Row(value="lost"))
        session.flush()
        raise ValueError("boom")
    assert _count(session) == 1


def test_reading_ends_its_transaction_and_refuses_unsaved_writes(session):
    with reading(session):
        session.execute(sa.select(Row)).all()
    assert not _in_transaction(session)
    with pytest.raises(RuntimeError, match="unsaved changes"), reading(session):
        session.add(Row(value="never written"))
    assert _count(session) == 0


def test_outside_transaction_ends_an_open_read_first(session):
    session.execute(sa.select(Row)).all()  # a read a caller left open
    assert _in_transaction(session)
    with outside_transaction(session):
        assert not _in_transaction(session)


def test_what_the_block_reads_or_writes_through_the_session_ends_with_it(session):
    with outside_transaction(session):  # e.g. a stand-in gateway reading our records
        session.execute(sa.select(Row)).all()
        session.execute(sa.insert(Row).values(value="never kept"))
    assert not _in_transaction(session)
    assert _count(session) == 0


def test_outside_transaction_refuses_to_start_over_unsaved_writes(session):
    session.add(Row(value="pending"))
    with pytest.raises(RuntimeError, match="unsaved changes"), outside_transaction(session):
        pass
    session.rollback()
    assert _count(session) == 0


def test_an_error_inside_the_call_passes_through_untouched(session):
    with pytest.raises(TimeoutError), outside_transaction(session):
        raise TimeoutError("no answer")
