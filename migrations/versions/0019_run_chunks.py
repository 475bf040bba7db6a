"""apportionment_run_chunks: a run's chunks, fixed when it starts executing, claimed by parallel workers

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 06:45:00.000000

"""
from alembic import op
import sqlalchemy as sa

import app.models.base  # custom column types (UTCDateTime, BigId)


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    # A run left 'executing' by the previous engine has no chunk rows: the engine creates them from
    # its recovery point (next_membership_id) on the next execute, so no data moves here.
    op.create_table(
        'apportionment_run_chunks',
        sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('lo', sa.BigInteger(), nullable=False),
        sa.Column('hi', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('debited_count', sa.BigInteger(), nullable=False),
        sa.Column('debited_fen', sa.BigInteger(), nullable=False),
        sa.Column('suspended_count', sa.BigInteger(), nullable=False),
        sa.Column('done_at', app.models.base.UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('pending','done')", name=op.f('ck_apportionment_run_chunks_status_valid')),
        sa.CheckConstraint('lo < hi', name=op.f('ck_apportionment_run_chunks_range_not_empty')),
        sa.ForeignKeyConstraint(['run_id'], ['apportionment_runs.id'],
                                name=op.f('fk_apportionment_run_chunks_run_id_apportionment_runs')),
        sa.PrimaryKeyConstraint('run_id', 'lo', name=op.f('pk_apportionment_run_chunks')),
    )


def downgrade():
    op.drop_table('apportionment_run_chunks')
