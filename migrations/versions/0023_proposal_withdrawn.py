"""rule_change_proposals.status may be 'withdrawn': a plan that winds down withdraws its pending proposal

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-01 08:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0021'
branch_labels = None
depends_on = None

_BEFORE = "status IN ('open','passed','failed','in_force')"
_AFTER = "status IN ('open','passed','failed','in_force','withdrawn')"


def _recreate(condition: str) -> None:
    with op.batch_alter_table('rule_change_proposals', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_rule_change_proposals_status_valid'), type_='check')
        batch_op.create_check_constraint('status_valid', condition)


def upgrade():
    _recreate(_AFTER)


def downgrade():
    op.execute("UPDATE rule_change_proposals SET status = 'failed' WHERE status = 'withdrawn'")
    _recreate(_BEFORE)
