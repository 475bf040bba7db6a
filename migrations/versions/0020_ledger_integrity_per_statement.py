"""ledger for runs: postings' references checked per statement instead of per row, accounts undeletable,
the zero-sum check from the statement's own postings, one index fewer on postings, room for HOT balance updates

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 08:40:00.000000

Why (docs/scaling.md, "The ledger for runs"): each posting fired two row-level foreign-key triggers
(an index probe and a FOR KEY SHARE lock on the account the same statement debits, and on the
transaction), a run chunk of 100,000 payers 200,000 trigger calls. Now:
- PostgreSQL: the statement trigger that already checked the zero sum also anti-joins the statement's
  new postings against accounts and ledger_transactions and refuses the statement if one is missing.
  No lock is needed, because nothing that a posting can reference ever disappears: ledger
  transactions were append-only already, accounts now refuse DELETE and a change of id.
  The zero sum is checked on the statement's own postings (NEW TABLE), grouped by transaction:
  every transaction summed to zero after every earlier statement (the same trigger), so the total
  is zero if and only if the statement's part is: the same rule, without reading the postings back.
- SQLite (one writer at a time): a row trigger refuses a posting to a missing account or transaction,
  and an account that postings reference cannot be deleted.
- ix_postings_transaction_id goes: ix_postings_transaction_id_id (0013) serves every lookup by
  transaction_id (its leading column).
- accounts: fillfactor 50 on PostgreSQL, so every balance update of a run finds room on its page (HOT:
  no new entries in accounts' four indexes). Pages written from now on keep the room; the existing
  pages are not rewritten here (that would hold an exclusive lock on accounts for the rewrite):
  `VACUUM FULL accounts` in a maintenance window does it at once, and otherwise the first run
  moves each updated row to a page with room and VACUUM frees the old ones.
No data moves: the foreign keys held, so every posting's references exist.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

ACCOUNTS_FILLFACTOR = 50

PG_UPGRADE = '''
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
    -- Per posting: its account (an index probe each, no lock: accounts are never deleted).
    SELECT n.account_id INTO offender FROM new_postings n
     WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'posting to a missing account %', offender.account_id
              USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION ledger_accounts_permanent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'accounts are never deleted nor renumbered: postings reference them'
          USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER accounts_permanent BEFORE DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_accounts_permanent();
CREATE TRIGGER accounts_id_permanent BEFORE UPDATE OF id ON accounts
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION ledger_accounts_permanent();
'''

PG_DOWNGRADE = '''
DROP TRIGGER accounts_id_permanent ON accounts;
DROP TRIGGER accounts_permanent ON accounts;
DROP FUNCTION ledger_accounts_permanent();
CREATE OR REPLACE FUNCTION ledger_check_zero_sum() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE offender record;
BEGIN
    SELECT p.transaction_id, SUM(p.amount_fen) AS total INTO offender
      FROM postings p
     WHERE p.transaction_id IN (SELECT DISTINCT transaction_id FROM new_postings)
     GROUP BY p.transaction_id
    HAVING SUM(p.amount_fen) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not sum to zero (% fen)', offender.transaction_id, offender.total
              USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
'''

SQLITE_TRIGGERS = (
    '''CREATE TRIGGER postings_references BEFORE INSERT ON postings
       WHEN NOT EXISTS (SELECT 1 FROM accounts WHERE id = NEW.account_id)
         OR NOT EXISTS (SELECT 1 FROM ledger_transactions WHERE id = NEW.transaction_id)
       BEGIN SELECT RAISE(ABORT, 'posting to a missing account or ledger transaction'); END''',
    '''CREATE TRIGGER accounts_permanent BEFORE DELETE ON accounts
       WHEN EXISTS (SELECT 1 FROM postings WHERE account_id = OLD.id)
       BEGIN SELECT RAISE(ABORT, 'accounts with postings are never deleted'); END''',
    '''CREATE TRIGGER accounts_id_permanent BEFORE UPDATE OF id ON accounts
       WHEN OLD.id IS NOT NEW.id
       BEGIN SELECT RAISE(ABORT, 'accounts are never renumbered'); END''',
)


def upgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.drop_constraint('fk_postings_account_id_accounts', type_='foreignkey')
        batch_op.drop_constraint('fk_postings_transaction_id_ledger_transactions', type_='foreignkey')
        batch_op.drop_index('ix_postings_transaction_id')
    if postgresql:
        op.execute(PG_UPGRADE)
        op.execute(f'ALTER TABLE accounts SET (fillfactor = {ACCOUNTS_FILLFACTOR})')
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    if postgresql:
        op.execute('ALTER TABLE accounts RESET (fillfactor)')
        op.execute(PG_DOWNGRADE)
    else:
        for name in ('accounts_id_permanent', 'accounts_permanent', 'postings_references'):
            op.execute(f'DROP TRIGGER {name}')
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.create_index('ix_postings_transaction_id', ['transaction_id'], unique=False)
        batch_op.create_foreign_key('fk_postings_transaction_id_ledger_transactions', 'ledger_transactions',
                                    ['transaction_id'], ['id'])
        batch_op.create_foreign_key('fk_postings_account_id_accounts', 'accounts', ['account_id'], ['id'])
