"""pgcrypto: a chunk hashes its debits' Merkle leaves inside its own statement (PostgreSQL only)

Why: each chunk read its ~100,000 debits back into Python to hash their leaves (HMAC-SHA256 for the
pseudonym, SHA-256 for the leaf): at 1,000,000 members that was ~5 s of the chunks' ~18 s on one
worker. PostgreSQL has sha256() built in but no HMAC; pgcrypto, shipped with PostgreSQL (contrib,
part of Debian's postgresql package) and a trusted extension since PostgreSQL 13, has hmac(). The chunk
statement now writes run_debit_leaves itself (app/services/apportionment/engine.py); verification
still hashes the ledger in Python, so the two are checked against each other.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01 18:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")


def downgrade():
    # Left installed: the extension may have been there before this migration, or be used by
    # something else in the database; without 0026 the chunks hash in Python and never call it.
    pass
