"""bill_mismatch_resolutions: an operator's resolution (who, when, outcome, why) of a reconciliation mismatch

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 06:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import app.models.base  # custom column types (UTCDateTime, BigId)


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'bill_mismatch_resolutions',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('bill_date', sa.Date(), nullable=False),
        sa.Column('category', sa.String(length=16), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('reference', sa.String(length=64), nullable=False),
        sa.Column('outcome', sa.String(length=10), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('operator_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('resolved_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("outcome IN ('corrected','explained','escalated')",
                           name=op.f('ck_bill_mismatch_resolutions_outcome_valid')),
        sa.ForeignKeyConstraint(['operator_id'], ['operators.id'],
                                name=op.f('fk_bill_mismatch_resolutions_operator_id_operators')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bill_mismatch_resolutions')),
        sa.UniqueConstraint('bill_date', 'category', 'kind', 'reference',
                            name=op.f('uq_bill_mismatch_resolutions_bill_date')),
    )


def downgrade():
    op.drop_table('bill_mismatch_resolutions')
