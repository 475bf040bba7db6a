"""apportionment: shares withheld at leaving, shortfalls owed and carried (and paid), unsettled payer sets

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 03:20:00.000000

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('apportionment_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payer_set_settled', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('payer_rounds', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('withheld_count', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('surplus_cover_fen', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('shortfall_fen', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('ended_unpaid_count', sa.BigInteger(), nullable=True))

    with op.batch_alter_table('apportionment_run_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_aid_fen', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('shortfall_fen', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('carried_from_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
    # Runs before this revision promised each case its limited aid.
    op.execute("UPDATE apportionment_run_cases SET due_aid_fen = limited_aid_fen")
    with op.batch_alter_table('apportionment_run_cases', schema=None) as batch_op:
        batch_op.alter_column('due_aid_fen', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_foreign_key(op.f('fk_apportionment_run_cases_carried_from_id_apportionment_run_cases'),
                                    'apportionment_run_cases', ['carried_from_id'], ['id'])
        batch_op.create_check_constraint(op.f('ck_apportionment_run_cases_due_within_limited'), 'due_aid_fen >= 0 AND due_aid_fen <= limited_aid_fen')
        batch_op.drop_index('uq_apportionment_run_cases_claim_active',
                            postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
        batch_op.create_index('uq_apportionment_run_cases_claim_active', ['claim_id'], unique=True,
                              postgresql_where=sa.text('active AND carried_from_id IS NULL'),
                              sqlite_where=sa.text('active AND carried_from_id IS NULL'))
        batch_op.create_index('uq_apportionment_run_cases_carried_active', ['carried_from_id'], unique=True,
                              postgresql_where=sa.text('active AND carried_from_id IS NOT NULL'),
                              sqlite_where=sa.text('active AND carried_from_id IS NOT NULL'))

    # A claim may be paid again for an amount a later run made up: only one transfer still open at a time.
    with op.batch_alter_table('payout_transfers', schema=None) as batch_op:
        batch_op.drop_index('uq_payout_transfers_live_per_claim',
                            postgresql_where=sa.text("status <> 'failed'"), sqlite_where=sa.text("status <> 'failed'"))
        batch_op.create_index('uq_payout_transfers_live_per_claim', ['claim_id'], unique=True,
                              postgresql_where=sa.text(_OPEN_TRANSFER), sqlite_where=sa.text(_OPEN_TRANSFER))


_OPEN_TRANSFER = "status IN ('pending', 'wait_user_confirm')"


def downgrade():
    with op.batch_alter_table('payout_transfers', schema=None) as batch_op:
        batch_op.drop_index('uq_payout_transfers_live_per_claim',
                            postgresql_where=sa.text(_OPEN_TRANSFER), sqlite_where=sa.text(_OPEN_TRANSFER))
        batch_op.create_index('uq_payout_transfers_live_per_claim', ['claim_id'], unique=True,
                              postgresql_where=sa.text("status <> 'failed'"), sqlite_where=sa.text("status <> 'failed'"))
    with op.batch_alter_table('apportionment_run_cases', schema=None) as batch_op:
        batch_op.drop_index('uq_apportionment_run_cases_carried_active')
        batch_op.drop_index('uq_apportionment_run_cases_claim_active')
        batch_op.create_index('uq_apportionment_run_cases_claim_active', ['claim_id'], unique=True,
                              postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
        batch_op.drop_constraint(op.f('ck_apportionment_run_cases_due_within_limited'), type_='check')
        batch_op.drop_constraint(op.f('fk_apportionment_run_cases_carried_from_id_apportionment_run_cases'),
                                 type_='foreignkey')
        batch_op.drop_column('carried_from_id')
        batch_op.drop_column('shortfall_fen')
        batch_op.drop_column('due_aid_fen')

    with op.batch_alter_table('apportionment_runs', schema=None) as batch_op:
        batch_op.drop_column('ended_unpaid_count')
        batch_op.drop_column('shortfall_fen')
        batch_op.drop_column('surplus_cover_fen')
        batch_op.drop_column('withheld_count')
        batch_op.drop_column('payer_rounds')
        batch_op.drop_column('payer_set_settled')
