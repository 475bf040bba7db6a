"""postings: a run chunk's statement proves its own accounts, so the statement trigger skips its probe

Why (docs/scaling.md, "The run's announcement in one row; the chunk's accounts by construction"): the
statement trigger that checks every postings INSERT (migration 0020) also anti-joins the statement's
new postings against accounts, an index probe per posting: ~0.2 s of a run chunk's ~3 s at 100,000
payers on the development box (`EXPLAIN ANALYZE`: the trigger 287 ms). A run chunk's postings cannot
reference a missing account: their account ids come from the chunk's own join of memberships and
accounts (and accounts are never deleted nor renumbered, migration 0020), and the engine checks the
statement's counts (every payer's account debited, the pool credited) before it commits. So the chunk
says so for its statement (`ledger.accounts_proven_by` = 'run_chunk', set just before and cleared
just after it, app/services/apportionment/engine.py) and the trigger skips the probe; every other
statement is checked as before, and the zero sum and the transaction's existence are checked for all
statements, chunks included. `flask ledger audit` still finds a posting to a missing account.
PostgreSQL only: SQLite's chunks run through ledger statements checked by its row trigger.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-01 21:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

_FUNCTION = '''
CREATE OR REPLACE FUNCTION ledger_check_zero_sum() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE offender record;
BEGIN
    -- Per transaction the statement touched (a run chunk: one): its sum, and that it exists.
    SELECT s.transaction_id, s.total, t.id IS NOT NULL AS known INTO offender
      FROM (SELECT transaction_id, SUM(amount_fen) AS total FROM new_postings GROUP BY transaction_id) s
      LEFT JOIN ledger_transactions t ON t.id = s.transaction_id
     WHERE s.total <> 0 OR t.id IS NULL
     LIMIT 1;
    IF FOUND AND NOT offender.known THEN
        RAISE EXCEPTION 'posting to a missing ledger transaction %', offender.transaction_id
              USING ERRCODE = 'foreign_key_violation';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not sum to zero (% fen)', offender.transaction_id, offender.total
              USING ERRCODE = 'check_violation';
    END IF;
    -- SKIP
    -- Per posting: its account (an index probe each, no lock: accounts are never deleted).
    SELECT n.account_id INTO offender FROM new_postings n
     WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'posting to a missing account %', offender.account_id
              USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
'''

_SKIP = '''-- A run chunk's statement took its accounts from accounts itself and checks its counts (0028).
    IF current_setting('ledger.accounts_proven_by', true) = 'run_chunk' THEN
        RETURN NULL;
    END IF;'''


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_FUNCTION.replace('-- SKIP', _SKIP))


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_FUNCTION.replace('    -- SKIP\n', ''))
