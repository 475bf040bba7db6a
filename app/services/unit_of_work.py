from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.orm import Session


@contextmanager
def atomic(session: Session) -> Iterator[Session]:
    """One database transaction: committed when the block ends, rolled back on any exception."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
