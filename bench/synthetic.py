"""Set-based synthetic members for benchmarks and large tests (PostgreSQL): generate_series,
never one ORM object per member. Each member gets a top-up ledger transaction, so the books
balance (`flask ledger audit` passes); a few have a balance below a typical share."""
from __future__ import annotations

import datetime as dt
import os

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.services.membership_secrets import create_missing_secrets

# Balances in fen: ~3% between 0 and 99 (they cannot pay a 1-yuan share), the rest 300..5299.
_BALANCE = "CASE WHEN g % 31 = 0 THEN (g * 7) % 100 ELSE 300 + (CAST(g AS BIGINT) * 7919) % 5000 END"


def generate_members(session: Session, plan_code: str, count: int, now: dt.datetime, *, state: str = "protected",
                     tag: str = "syn", members_per_user: int | None = None) -> None:
    """`count` memberships of the plan in `state`, each with a member account and its top-up. All
    of one user by default; with `members_per_user` k, a user per k consecutive memberships (the
    first 'self', the others 'child': a family), so per-user work (notices) is as many rows as in life."""
    p = {"plan": plan_code, "n": count, "now": now, "state": state, "tag": tag, "k": members_per_user or count}
    run = session.execute
    if members_per_user:
        run(text("INSERT INTO users (openid, invite_code, created_at, last_login_at) "
                 "SELECT 'o-' || :tag || '-' || j, left(md5(:tag || '-' || j), 16), :now, :now "
                 "FROM generate_series(1, (:n + :k - 1) / :k) j"), p)
    else:
        run(text("INSERT INTO users (openid, invite_code, created_at, last_login_at) "
                 "VALUES ('o-' || :tag, 'inv-' || :tag, :now, :now) ON CONFLICT DO NOTHING"), p)
    base = run(text("SELECT COALESCE(MAX(id), 0) FROM memberships")).scalar_one()
    p["base"] = base
    # The user of membership g: the one user, or the ((g - 1) / k + 1)-th of this batch.
    user = "'o-' || :tag || '-' || ((g - 1) / :k + 1)" if members_per_user else "'o-' || :tag"
    relation = "CASE WHEN (g - 1) % :k = 0 THEN 'self' ELSE 'child' END" if members_per_user else "'self'"
    run(text(f"""
        INSERT INTO memberships (id, user_id, plan_id, plan_version_id, relation, person_name_encrypted,
            person_name_masked, person_id_encrypted, person_id_hash, person_id_masked, birth_date, sex,
            eligibility_group, declaration, state, joined_at, state_changed_at, observation_starts_at,
            observation_ends_at, protected_at, sponsor_token)
        SELECT :base + g, u.id, p.id, p.current_version_id, {relation},
               'x', '测*', 'x', :tag || '-' || g,
               '1101**********001X', DATE '1990-01-01', 'M', 'synthetic', '{{}}', :state, :now, :now,
               :now - INTERVAL '200 days', :now - INTERVAL '20 days', :now - INTERVAL '20 days', :tag || 't' || g
          FROM generate_series(1, :n) g JOIN users u ON u.openid = {user}, plans p
         WHERE p.code = :plan"""), p)
    run(text("SELECT setval(pg_get_serial_sequence('memberships', 'id'), (SELECT MAX(id) FROM memberships))"))
    # Each membership's transparency secret, as join creates it (set-based, random bytes from the database).
    create_missing_secrets(session, base + 1, base + count + 1)
    run(text(f"""
        INSERT INTO accounts (code, kind, plan_id, membership_id, balance_fen, allow_negative, created_at)
        SELECT 'member:' || (:base + g), 'member', p.id, :base + g, {_BALANCE}, false, :now
          FROM generate_series(1, :n) g, plans p WHERE p.code = :plan"""), p)
    # One top-up transaction per funded member: its two postings in one INSERT (zero-sum trigger).
    run(text("""
        INSERT INTO ledger_transactions (idempotency_key, request_hash, reason, reference_type, reference_id, created_at)
        SELECT 'syn:' || a.id, 'syn', 'topup', 'synthetic', NULL, :now
          FROM accounts a WHERE a.membership_id > :base AND a.balance_fen > 0"""), p)
    run(text("""
        INSERT INTO postings (transaction_id, account_id, amount_fen)
        SELECT t.id, a.id, a.balance_fen
          FROM accounts a JOIN ledger_transactions t ON t.idempotency_key = 'syn:' || a.id
         WHERE a.membership_id > :base AND a.balance_fen > 0
        UNION ALL
        SELECT t.id, w.id, -a.balance_fen
          FROM accounts a JOIN ledger_transactions t ON t.idempotency_key = 'syn:' || a.id,
               accounts w
         WHERE a.membership_id > :base AND a.balance_fen > 0 AND w.code = 'system:wechat_pay_in'"""), p)
    run(text("""
        UPDATE accounts w SET balance_fen = w.balance_fen - s.total
          FROM (SELECT COALESCE(SUM(balance_fen), 0) AS total FROM accounts WHERE membership_id > :base) s
         WHERE w.code = 'system:wechat_pay_in'"""), p)


def add_case(session: Session, plan_code: str, approved_fen: int, now: dt.datetime) -> int:
    """A claim of a synthetic member, publicity over, waiting for a run."""
    return session.execute(text("""
        INSERT INTO claims (user_id, membership_id, plan_id, status, incident_type, incident_date, diagnosis_date,
            diagnosis, hospital, city, description, approved_aid_fen, publicity_started_at, publicity_ends_at,
            submitted_at, updated_at)
        SELECT m.user_id, m.id, m.plan_id, 'ready', 'illness', DATE '2026-01-05', DATE '2026-01-06', '恶性肿瘤',
               '某医院', '杭州', '', :approved, :now - INTERVAL '6 days', :now - INTERVAL '1 day', :now, :now
          FROM memberships m JOIN plans p ON p.id = m.plan_id
         WHERE p.code = :plan AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.membership_id = m.id)
         ORDER BY m.id LIMIT 1
        RETURNING id"""), {"plan": plan_code, "approved": approved_fen, "now": now}).scalar_one()


def migrated_app(url: str, *, fresh: bool, now: dt.datetime):
    """The app on the benchmark database `url`: its public schema dropped, re-created and migrated when
    `fresh`, the plan catalogue loaded. Configured from the environment (APP_ENV, REDIS_URL, …)."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.services.plans import load_catalogue
    from wechat.keys import generate_dev_keys

    if fresh:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    if os.environ.get("WECHAT_KEYS_DIR"):
        generate_dev_keys(os.environ["WECHAT_KEYS_DIR"])
    app = create_app()
    with app.app_context():
        upgrade()
        load_catalogue(db.session, app.config["PLANS_FILE"], now)
        db.session.remove()
        db.engine.dispose()
    return app
