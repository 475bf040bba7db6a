"""run_notice_parts: a large run's share-deducted notices written in parts of user ids, by any free worker

Why: after settlement, one transaction wrote every paying user's notice: at 1,000,000 members in families
of two, 500,000 rows in ~9 s on one core; at 10,000,000 members, minutes in one transaction. The run's
announcement now cuts ranges of user ids and the workers that ran its chunks write them, each range its
own transaction (app/services/outbox.py write_run_notice_part).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01 18:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'run_notice_parts',
        sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('lo', sa.BigInteger(), nullable=False),
        sa.Column('hi', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('written_count', sa.BigInteger(), nullable=False),
        sa.CheckConstraint("status IN ('pending','done')", name=op.f('ck_run_notice_parts_status_valid')),
        sa.ForeignKeyConstraint(['run_id'], ['apportionment_runs.id'],
                                name=op.f('fk_run_notice_parts_run_id_apportionment_runs')),
        sa.PrimaryKeyConstraint('run_id', 'lo', name=op.f('pk_run_notice_parts')),
    )


def downgrade():
    op.drop_table('run_notice_parts')
