"""Small SQL helpers shared by services."""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(session: Session, table):
    """INSERT with ON CONFLICT support (PostgreSQL and SQLite share the API)."""
    builder = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return builder(table)


def without_jit(session: Session) -> None:
    """No JIT compilation for the rest of the caller's transaction (PostgreSQL). A run's statements
    probe indexes for every member of a chunk or part; the planner prices them dear, and compiling
    them cost more than it saved (~80 ms a chunk, ~0.3 s for the announcement's scans, 0.5 s a
    notice part on the development box). deploy/postgresql.conf turns JIT off for the whole server;
    this holds on servers that leave it on."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
