"""`flask pii rotate` (or, with --retention, `flask privacy retention`) over N memberships on
PostgreSQL: time and peak RSS.

Data is generated set-based: a pool of distinct people is encrypted under the old key in Python
(AES-GCM cannot run in SQL), then INSERT … SELECT generate_series assigns them to N memberships by
id modulo the pool, so every row holds a real ciphertext and a real keyed hash that the rotation has
to decrypt, re-encrypt and recompute. The rotation runs in its own process (its peak RSS is its own).

    .venv/bin/python bench/pii_rotate.py --members 1000000 [--chunk-size 5000] [--url postgresql://…/bench]
    .venv/bin/python bench/pii_rotate.py --members 1000000 --retention   # every membership ended 2000 days ago
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.services.idcard import check_character  # noqa: E402
from app.services.pii import PiiProtector, mask_id_number, mask_name  # noqa: E402

OLD_KEY = base64.urlsafe_b64encode(b"o" * 32).decode()
NEW_KEY = base64.urlsafe_b64encode(b"n" * 32).decode()
OLD_HASH = base64.urlsafe_b64encode(b"h" * 32).decode()
NEW_HASH = base64.urlsafe_b64encode(b"H" * 32).decode()
SURNAMES = "王李张刘陈杨黄赵吴周"


def old_keys() -> PiiProtector:
    return PiiProtector({"v1": OLD_KEY}, {"v1": OLD_HASH})


def new_keys() -> PiiProtector:
    return PiiProtector({"v1": OLD_KEY, "v2": NEW_KEY}, {"v1": OLD_HASH, "v2": NEW_HASH})


def synthetic_person(k: int) -> tuple[str, str]:
    body = f"1101{k % 100:02d}{1960 + k % 40}{1 + k % 12:02d}{1 + k % 28:02d}{k % 1000:03d}"
    return SURNAMES[k % 10] + "测试" + "甲乙丙丁戊"[k % 5], body + check_character(body)


def generate_encrypted_members(session: Session, pii: PiiProtector, plan_code: str, count: int, now: dt.datetime,
                               *, distinct: int = 1000, state: str = "left", tag: str = "pii") -> dict[int, tuple]:
    """`count` memberships whose names and ID numbers are encrypted under pii's newest keys (a pool
    of `distinct` people, row → person by id modulo). Returns {pool index: (name, id number)}.
    Rows are `left` by default (the same person in many rows is then allowed)."""
    people = {k: synthetic_person(k) for k in range(distinct)}
    run = session.execute
    run(sa.text("CREATE TEMP TABLE pii_pool (k INT PRIMARY KEY, name_enc TEXT, name_masked TEXT, id_enc TEXT, "
                "id_hash TEXT, id_masked TEXT) ON COMMIT DROP"))
    run(sa.text("INSERT INTO pii_pool VALUES (:k, :ne, :nm, :ie, :ih, :im)"), [
        {"k": k, "ne": pii.encrypt(name), "nm": mask_name(name), "ie": pii.encrypt(number),
         "ih": pii.lookup_hash(number), "im": mask_id_number(number)} for k, (name, number) in people.items()])
    run(sa.text("INSERT INTO users (openid, invite_code, created_at, last_login_at) "
                "VALUES ('o-' || :tag, 'inv-' || :tag, :now, :now) ON CONFLICT DO NOTHING"), {"tag": tag, "now": now})
    base = run(sa.text("SELECT COALESCE(MAX(id), 0) FROM memberships")).scalar_one()
    ended_at = now if state in ("left", "lapsed", "aided") else None
    run(sa.text("""
        INSERT INTO memberships (id, user_id, plan_id, plan_version_id, relation, person_name_encrypted,
            person_name_masked, person_id_encrypted, person_id_hash, person_id_hash_key, person_id_masked,
            birth_date, sex, eligibility_group, declaration, state, joined_at, state_changed_at, ended_at,
            sponsor_token)
        SELECT :base + g, u.id, p.id, p.current_version_id, 'self', pool.name_enc, pool.name_masked, pool.id_enc,
               pool.id_hash, :hash_key, pool.id_masked, DATE '1990-01-01', 'M', 'synthetic', '{}', :state, :now, :now,
               CAST(:ended AS TIMESTAMPTZ), :tag || 't' || (:base + g)
          FROM generate_series(1, :n) g
          JOIN pii_pool pool ON pool.k = (:base + g) % :distinct, plans p, users u
         WHERE p.code = :plan AND u.openid = 'o-' || :tag"""),
        {"base": base, "n": count, "distinct": distinct, "hash_key": pii.hash_key_id, "state": state, "now": now,
         "ended": ended_at, "tag": tag, "plan": plan_code})
    run(sa.text("SELECT setval(pg_get_serial_sequence('memberships', 'id'), (SELECT MAX(id) FROM memberships))"))
    return people


def _reset(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    from app import create_app
    from app.extensions import db
    from config import TestingConfig

    cfg = TestingConfig().as_dict()
    cfg.update(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={})
    app = create_app(cfg)
    with app.app_context():
        from flask_migrate import upgrade

        from app.services.plans import load_catalogue

        upgrade()
        load_catalogue(db.session, app.config["PLANS_FILE"], dt.datetime.now(dt.timezone.utc))
        db.session.remove()
        db.engine.dispose()


def _child(url: str, chunk_size: int, retention: bool) -> None:
    from app.services.personal_data import erase_expired
    from app.services.pii_rotation import rotate

    engine = sa.create_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        now = dt.datetime.now(dt.timezone.utc)
        if retention:
            erased = erase_expired(session, now=now, retention_days=1095)
            rows, chunks = {"memberships": erased}, -(-erased // 1000)
        else:
            result = rotate(session, new_keys(), now=now, chunk_size=chunk_size)
            rows, chunks = result.rows_rewritten, result.chunks
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rows": rows, "chunks": chunks,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=5_000)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL",
                                                        "postgresql://postgres@127.0.0.1:5432/bench"))
    parser.add_argument("--retention", action="store_true",
                        help="measure the erasure of N ended, settled memberships instead of the rotation")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.url, args.chunk_size, args.retention)
        return
    _reset(args.url)
    engine = sa.create_engine(args.url)
    started = time.perf_counter()
    with Session(engine) as session, session.begin():
        joined = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2000 if args.retention else 0)
        # retention: one row per person (the realistic case), each with its (settled, zero) account
        generate_encrypted_members(session, old_keys(), "adult_789", args.members, joined,
                                   distinct=args.members if args.retention else 1000)
        if args.retention:
            session.execute(sa.text(
                "INSERT INTO accounts (code, kind, plan_id, membership_id, balance_fen, allow_negative, created_at) "
                "SELECT 'member:' || id, 'member', plan_id, id, 0, false, joined_at FROM memberships"))
    generated = time.perf_counter() - started
    with engine.connect() as conn:
        conn.execute(sa.text("ANALYZE memberships"))
    engine.dispose()
    out = subprocess.run([sys.executable, __file__, "--child", "--url", args.url, "--chunk-size", str(args.chunk_size)]
                         + (["--retention"] if args.retention else []), capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    if args.retention:
        print(f"members {args.members:,}: generated in {generated:.1f} s; retention erased "
              f"{figures['rows']['memberships']:,} in {figures['seconds']:.1f} s "
              f"({figures['rows']['memberships'] / figures['seconds']:,.0f} rows/s), peak RSS {figures['peak_rss_mb']:.1f} MB")
        return
    engine = sa.create_engine(args.url)
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT COUNT(*) FROM memberships WHERE person_name_encrypted NOT LIKE 'v2:%' "
                                    "OR person_id_encrypted NOT LIKE 'v2:%' OR person_id_hash_key <> 'v2'")).scalar_one()
    engine.dispose()
    print(f"members {args.members:,}: generated in {generated:.1f} s; rotation {figures['seconds']:.1f} s "
          f"({args.members / figures['seconds']:,.0f} rows/s, {figures['chunks']} chunks of {args.chunk_size}), "
          f"peak RSS {figures['peak_rss_mb']:.1f} MB; rows not on v2 afterwards: {left}")


if __name__ == "__main__":
    main()
