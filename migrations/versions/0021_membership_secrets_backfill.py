"""membership_secrets for every membership: join now creates a membership's secret with it, so a
run's settlement only reads them; the memberships created before get theirs here (data only)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 08:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

BATCH = 100_000
# 32 random bytes drawn by the database (as app/services/transparency.py's create_missing_secrets):
# PostgreSQL's built-in gen_random_uuid() reads its strong random source; SQLite's randomblob.
_RANDOM = {"postgresql": "sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()))",
           "sqlite": "randomblob(32)"}


def upgrade():
    # Set-based, one id range at a time (bounded statements); a membership that has a secret keeps it.
    bind = op.get_bind()
    first, last = bind.execute(sa.text("SELECT MIN(id), MAX(id) FROM memberships")).one()
    if first is None:
        return
    statement = sa.text(
        f"INSERT INTO membership_secrets (membership_id, secret) SELECT m.id, {_RANDOM[bind.dialect.name]} "
        "FROM memberships m WHERE m.id >= :lo AND m.id < :hi AND NOT EXISTS "
        "(SELECT 1 FROM membership_secrets s WHERE s.membership_id = m.id) ON CONFLICT (membership_id) DO NOTHING")
    for lo in range(first, last + 1, BATCH):
        bind.execute(statement, {"lo": lo, "hi": lo + BATCH})


def downgrade():
    # The secrets stay: members may have seen theirs (inclusion proofs), and settlement would
    # create the same rows lazily anyway.
    pass
