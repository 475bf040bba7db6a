"""Privacy: consents, name corrections, PII key registry and rotation progress, erasure markers,
the operator audit log's hash chain (existing entries chained in id order) and its published heads

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-01 03:45:00.000000

"""
import datetime as dt
import hashlib
import json

from alembic import op
import sqlalchemy as sa

import app.models.base  # custom column types (UTCDateTime)


revision = '0012'
down_revision = '0009'
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _utc_text(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hash(prev, stream, seq, row, before, after):
    # A frozen copy of app.services.audit_chain.compute_hash (migrations never import the app's rules).
    body = json.dumps({"stream": stream, "seq": seq, "operator_id": row.operator_id, "action": row.action,
                       "target_type": row.target_type, "target_id": row.target_id, "before": before or {},
                       "after": after or {}, "created_at": _utc_text(row.created_at)},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev + body).encode("utf-8")).hexdigest()


def upgrade():
    utc = app.models.base.UTCDateTime(timezone=True)
    big = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    op.create_table('consents',
        sa.Column('id', big, nullable=False),
        sa.Column('user_id', big, nullable=False),
        sa.Column('scope', sa.String(length=30), nullable=False),
        sa.Column('policy_version', sa.String(length=20), nullable=False),
        sa.Column('membership_id', big, nullable=True),
        sa.Column('claim_id', big, nullable=True),
        sa.Column('given_at', utc, nullable=False),
        sa.CheckConstraint("scope IN ('privacy_policy','sensitive_personal_data','medical_documents')",
                           name=op.f('ck_consents_scope_valid')),
        sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_consents_claim_id_claims')),
        sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], name=op.f('fk_consents_membership_id_memberships')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_consents_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consents')),
    )
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.create_index('ix_consents_user_id_scope', ['user_id', 'scope'], unique=False)
        batch_op.create_index(batch_op.f('ix_consents_membership_id'), ['membership_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consents_claim_id'), ['claim_id'], unique=False)
    op.create_table('name_corrections',
        sa.Column('id', big, nullable=False),
        sa.Column('membership_id', big, nullable=False),
        sa.Column('user_id', big, nullable=False),
        sa.Column('new_name_encrypted', sa.Text(), nullable=True),
        sa.Column('new_name_masked', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('reviewed_by_operator_id', big, nullable=True),
        sa.Column('created_at', utc, nullable=False),
        sa.Column('reviewed_at', utc, nullable=True),
        sa.CheckConstraint("status IN ('pending','approved','rejected')", name=op.f('ck_name_corrections_status_valid')),
        sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], name=op.f('fk_name_corrections_membership_id_memberships')),
        sa.ForeignKeyConstraint(['reviewed_by_operator_id'], ['operators.id'], name=op.f('fk_name_corrections_reviewed_by_operator_id_operators')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_name_corrections_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_name_corrections')),
    )
    with op.batch_alter_table('name_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_name_corrections_membership_id'), ['membership_id'], unique=False)
    op.create_table('pii_keys',
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('key_id', sa.String(length=8), nullable=False),
        sa.Column('registered_at', utc, nullable=False),
        sa.Column('unreferenced_at', utc, nullable=True),
        sa.CheckConstraint("kind IN ('encryption','hash')", name=op.f('ck_pii_keys_kind_valid')),
        sa.PrimaryKeyConstraint('kind', 'key_id', name=op.f('pk_pii_keys')),
    )
    op.create_table('pii_rotations',
        sa.Column('id', big, nullable=False),
        sa.Column('table_name', sa.String(length=40), nullable=False),
        sa.Column('key_id', sa.String(length=8), nullable=False),
        sa.Column('hash_key_id', sa.String(length=8), nullable=False),
        sa.Column('last_id', sa.BigInteger(), nullable=False),
        sa.Column('rows_rewritten', sa.BigInteger(), nullable=False),
        sa.Column('started_at', utc, nullable=False),
        sa.Column('finished_at', utc, nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pii_rotations')),
        sa.UniqueConstraint('table_name', 'key_id', 'hash_key_id', name='uq_pii_rotations_target'),
    )
    op.create_table('audit_chain_heads',
        sa.Column('stream', sa.String(length=40), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('entry_hash', sa.String(length=64), nullable=False),
        sa.Column('updated_at', utc, nullable=False),
        sa.PrimaryKeyConstraint('stream', name=op.f('pk_audit_chain_heads')),
    )
    op.create_table('audit_published_heads',
        sa.Column('id', big, nullable=False),
        sa.Column('stream', sa.String(length=40), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('entry_hash', sa.String(length=64), nullable=False),
        sa.Column('published_at', utc, nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_published_heads')),
        sa.UniqueConstraint('stream', 'day', name='uq_audit_published_heads_stream_day'),
    )
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_id_hash_key', sa.String(length=8), server_default='v1', nullable=False))
        batch_op.add_column(sa.Column('erased_at', utc, nullable=True))
        batch_op.create_index('ix_memberships_person_id_hash', ['person_id_hash'], unique=False)
    with op.batch_alter_table('claim_documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deleted_at', utc, nullable=True))

    # The audit chain: columns added nullable, existing entries chained in id order, then NOT NULL.
    bind = op.get_bind()
    postgres = bind.dialect.name == 'postgresql'
    with op.batch_alter_table('operator_audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stream', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('entry_hash', sa.String(length=64), nullable=True))
    if postgres:
        op.execute('ALTER TABLE operator_audit_log DISABLE TRIGGER operator_audit_log_append_only')
    log = sa.table('operator_audit_log', sa.column('id'), sa.column('operator_id'), sa.column('action'),
                   sa.column('target_type'), sa.column('target_id'), sa.column('before', sa.JSON),
                   sa.column('after', sa.JSON), sa.column('created_at', utc), sa.column('stream'), sa.column('seq'),
                   sa.column('prev_hash'), sa.column('entry_hash'))
    heads = {}
    for row in bind.execute(sa.select(log).order_by(log.c.id)).all():
        stream = f"claim:{row.target_id}" if row.target_type == 'claim' and row.target_id is not None else 'global'
        seq, prev, _ = heads.get(stream, (0, GENESIS, None))
        entry_hash = _hash(prev, stream, seq + 1, row, row.before, row.after)
        bind.execute(log.update().where(log.c.id == row.id).values(stream=stream, seq=seq + 1, prev_hash=prev,
                                                                    entry_hash=entry_hash))
        heads[stream] = (seq + 1, entry_hash, row.created_at)
    if postgres:
        op.execute('ALTER TABLE operator_audit_log ENABLE TRIGGER operator_audit_log_append_only')
    head_table = sa.table('audit_chain_heads', sa.column('stream'), sa.column('seq'), sa.column('entry_hash'),
                          sa.column('updated_at', utc))
    for stream, (seq, entry_hash, created_at) in heads.items():
        bind.execute(head_table.insert().values(stream=stream, seq=seq, entry_hash=entry_hash, updated_at=created_at))
    with op.batch_alter_table('operator_audit_log', schema=None) as batch_op:
        for name in ('stream', 'seq', 'prev_hash', 'entry_hash'):
            batch_op.alter_column(name, nullable=False)
        batch_op.create_unique_constraint('uq_operator_audit_log_stream_seq', ['stream', 'seq'])

    # Data written before key rotation existed is under the single keys, id v1.
    has_data = bind.execute(sa.text('SELECT 1 FROM users LIMIT 1')).first() is not None
    if has_data:
        keys = sa.table('pii_keys', sa.column('kind'), sa.column('key_id'), sa.column('registered_at', utc))
        now = dt.datetime.now(dt.timezone.utc)
        bind.execute(keys.insert(), [{"kind": "encryption", "key_id": "v1", "registered_at": now},
                                     {"kind": "hash", "key_id": "v1", "registered_at": now}])


def downgrade():
    with op.batch_alter_table('operator_audit_log', schema=None) as batch_op:
        batch_op.drop_constraint('uq_operator_audit_log_stream_seq', type_='unique')
        for name in ('entry_hash', 'prev_hash', 'seq', 'stream'):
            batch_op.drop_column(name)
    with op.batch_alter_table('claim_documents', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index('ix_memberships_person_id_hash')
        batch_op.drop_column('erased_at')
        batch_op.drop_column('person_id_hash_key')
    for table in ('audit_published_heads', 'audit_chain_heads', 'pii_rotations', 'pii_keys', 'name_corrections',
                  'consents'):
        op.drop_table(table)
