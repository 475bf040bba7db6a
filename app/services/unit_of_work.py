"""Where database transactions begin and end. Services use these four, never session.commit()
or session.rollback() directly (tests/unit/test_architecture.py checks):

- atomic(session): one transaction, committed when the block ends, rolled back on any exception;
- reading(session): reads whose transaction ends with the block (nothing written, nothing held open);
- one_statement_read(session): a hot read that is ONE statement, sent without a transaction around it;
- outside_transaction(session): a call to the outside world (WeChat) with no transaction open.

A WeChat call between database writes is written as three short steps:

    with atomic(session):               # record the intent (our out_* number) and count the attempt
        ...
    with outside_transaction(session):  # call WeChat; the database is not touched here
        answer = gateway.call(...)
    with atomic(session):               # record the answer
        ...
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.orm import Session, scoped_session


@contextmanager
def atomic(session: Session) -> Iterator[Session]:
    """One database transaction: committed when the block ends, rolled back on any exception."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _in_transaction(session: Session) -> bool:
    real = session() if isinstance(session, scoped_session) else session  # Flask-SQLAlchemy's db.session
    return real.in_transaction()


def _refuse_unsaved_changes(session: Session, where: str) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError(f"unsaved changes in the session {where}: write them inside atomic()")


@contextmanager
def reading(session: Session) -> Iterator[Session]:
    """Reads in a transaction of their own that ends (rolled back: nothing was written) with the block,
    so nothing stays open over what follows: a WeChat call, or batches each in their own atomic()."""
    try:
        yield session
        _refuse_unsaved_changes(session, "after a read-only block")
    finally:
        session.rollback()


@contextmanager
def one_statement_read(session: Session) -> Iterator[Session]:
    """For a read that is one SELECT (a member's own page on every visit): on PostgreSQL the statement
    runs with the driver in autocommit, so it sends no BEGIN before it and no ROLLBACK after it — one
    round trip instead of three. One statement sees one snapshot on its own, so nothing is lost; the
    block must run exactly that one statement (more would each see their own snapshot). The driver's
    autocommit flag is set directly: it is client-side, where SQLAlchemy's isolation_level="AUTOCOMMIT"
    makes psycopg2 send `SET default_transaction_isolation` when set and again when reset (measured:
    two more round trips than it saves). When the session already has a transaction (an earlier read
    of this request), or on SQLite, the statement runs in an ordinary transaction; the block ends it
    as reading() does unless it was already open (then it stays its owner's)."""
    if _in_transaction(session):
        yield session
        return
    dbapi = session.connection().connection.dbapi_connection  # checked out; no BEGIN sent yet
    direct = session.get_bind().dialect.name == "postgresql" and hasattr(dbapi, "autocommit") \
        and not dbapi.autocommit
    if direct:
        dbapi.autocommit = True
    try:
        yield session
        _refuse_unsaved_changes(session, "after a read-only block")
    finally:
        if direct and not dbapi.closed:
            dbapi.autocommit = False
        session.rollback()  # releases the connection (nothing on the wire after an autocommit read)


@contextmanager
def outside_transaction(session: Session) -> Iterator[None]:
    """The block calls the outside world (WeChat) with no database transaction open: one still open on
    entry (reads a caller left open) is ended first; unsaved ORM changes are refused. The block itself
    writes nothing through the session: a stand-in gateway that reads it (the demo's past bills) has
    its reads ended (rolled back) when the block ends, so no transaction outlives the call either."""
    _refuse_unsaved_changes(session, "before a call outside the database")
    if _in_transaction(session):
        session.commit()  # reads only (unsaved writes were refused above): ends the transaction
    try:
        yield
    finally:
        if _in_transaction(session):
            session.rollback()
