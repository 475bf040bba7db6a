"""run_debit_leaves: each chunk's Merkle leaf hashes, written by the chunk, combined by settlement

Why: settlement read and hashed every debit of the run again in its serial tail (1,000,000 payers: the
tree ~8 s of a ~14 s settlement). Each chunk now hashes its own debits in its own transaction (in
parallel when several workers run the chunks) and stores them here; settlement combines the stored
hashes into the same RFC 6962 root and deletes the rows. Verification still recomputes from the ledger.
No foreign key to the run: app/models/apportionment.py says why (a lock a member's leave holds).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 15:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'run_debit_leaves',
        sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('transaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('leaf_count', sa.BigInteger(), nullable=False),
        sa.Column('total_fen', sa.BigInteger(), nullable=False),
        sa.Column('hashes', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transactions.id'],
                                name=op.f('fk_run_debit_leaves_transaction_id_ledger_transactions')),
        sa.PrimaryKeyConstraint('run_id', 'transaction_id', name=op.f('pk_run_debit_leaves')),
    )


def downgrade():
    op.drop_table('run_debit_leaves')
