"""operators.failed_logins and locked_until: lock-out after repeated wrong passwords

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 03:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import app.models.base  # custom column types (UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', app.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')
