"""plan_stats: the public figures of each plan, refreshed set-based by the scheduler

Revision ID: 0015
Revises: 0009
Create Date: 2026-12-01 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import app.models.base  # custom column types (UTCDateTime, BigId)


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'plan_stats',
        sa.Column('plan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('members', sa.BigInteger(), nullable=False),
        sa.Column('observing', sa.BigInteger(), nullable=False),
        sa.Column('protected', sa.BigInteger(), nullable=False),
        sa.Column('balances_held_fen', sa.BigInteger(), nullable=False),
        sa.Column('aid_paid_fen', sa.BigInteger(), nullable=False),
        sa.Column('estimated_annual_fen', sa.BigInteger(), nullable=True),
        sa.Column('refreshed_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_stats_plan_id_plans')),
        sa.PrimaryKeyConstraint('plan_id', name=op.f('pk_plan_stats')),
    )


def downgrade():
    op.drop_table('plan_stats')
