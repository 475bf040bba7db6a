"""Fan-out benchmark: a case announcement to N consenting members of one plan.

    .venv/bin/python bench/fanout.py [--members 1000000] [--workers 1] [--bare N]

1. Generates N users, memberships (protected, one plan) and one subscribe quota each with set-based SQL
   in PostgreSQL (database `bench`, schema `fanout`, so other benchmarks in that database are untouched).
2. Times the outbox write: one run.published event → one INSERT ... SELECT of N notification rows.
3. Drains the outbox into the WeChat emulator (its own process) with the dispatcher and RQ worker(s)
   (`flask notifications work`), chunks of NOTIFICATION_CHUNK_SIZE ids per job.
4. Baseline in the same run: a bare loop of the same HTTP sends (requests.Session, one connection).
Prints messages/s of both and the ratio drain time / bare-loop time for the same number of messages."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/bench?options=-csearch_path%3Dfanout"
DEFAULT_REDIS = "redis://127.0.0.1:6379/6"
OPENID = "bench-{}"


def serve_emulator(keys_dir: str, port_file: str, members: int, per_member_quota: int, template_id: str) -> None:
    """Child process: the emulator with every bench member known and consenting."""
    from wechat.emulator.server import EmulatorServer
    from wechat.emulator.state import MiniProgramUser

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per message
    server = EmulatorServer.from_keys_dir(keys_dir)
    state = server.state
    for i in range(1, members + 1):
        openid = OPENID.format(i)
        state.users[openid] = MiniProgramUser(openid, "a2V5a2V5a2V5a2V5a2V5aw==")
        state.subscribe_quota[(openid, template_id)] = per_member_quota
    server.start()
    Path(port_file).write_text(server.url)
    threading.Event().wait()


def generate(engine, members: int, now: dt.datetime) -> None:
    import sqlalchemy as sa

    with engine.begin() as conn:
        plan = conn.execute(sa.text("SELECT id, current_version_id FROM plans WHERE code = 'adult_789'")).one()
        conn.execute(sa.text(
            "INSERT INTO users (openid, invite_code, created_at, last_login_at) "
            "SELECT 'bench-' || g, 'B' || g, :now, :now FROM generate_series(1, :n) g"), {"n": members, "now": now})
        conn.execute(sa.text(
            "INSERT INTO memberships (user_id, plan_id, plan_version_id, relation, person_name_encrypted, "
            "person_name_masked, person_id_encrypted, person_id_hash, person_id_masked, birth_date, sex, "
            "eligibility_group, declaration, state, joined_at, state_changed_at, observation_starts_at, "
            "observation_ends_at, protected_at, sponsor_token) "
            "SELECT u.id, :plan, :version, 'self', 'x', '王*', 'x', md5(u.openid), '1101**********0000', "
            "'1990-01-01', 'M', '18至55周岁', '{}', 'protected', :now, :now, :now, :now, :now, 's' || u.id "
            "FROM users u WHERE u.openid LIKE 'bench-%'"), {"plan": plan.id, "version": plan.current_version_id,
                                                          "now": now})
        conn.execute(sa.text(
            "INSERT INTO subscribe_quotas (user_id, template_key, remaining, updated_at) "
            "SELECT id, 'case_announced', 1, :now FROM users WHERE openid LIKE 'bench-%'"), {"now": now})
        conn.execute(sa.text("ANALYZE"))


def reset_schema(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url.split("?")[0])
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS fanout CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA fanout"))
    engine.dispose()


def bare_loop(emulator_url: str, appid: str, secret: str, template, data: dict, count: int) -> float:
    """The same HTTP sends as the worker, with nothing else: one requests.Session."""
    import requests

    http = requests.Session()
    token = http.post(emulator_url + "cgi-bin/stable_token", json={
        "grant_type": "client_credential", "appid": appid, "secret": secret}, timeout=5).json()["access_token"]
    url = emulator_url + "cgi-bin/message/subscribe/send"
    wrapped = {k: {"value": v} for k, v in data.items()}
    started = time.perf_counter()
    for i in range(1, count + 1):
        body = {"touser": OPENID.format(i), "template_id": template.id, "page": template.page, "data": wrapped}
        result = http.post(url, params={"access_token": token}, json=body, timeout=5).json()
        if result.get("errcode"):
            raise RuntimeError(f"bare loop send failed: {result}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--bare", type=int, default=None, help="messages in the bare loop (default: all)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--serve-emulator", nargs=4, metavar=("KEYS", "PORTFILE", "N", "TEMPLATE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_emulator:
        keys, port_file, n, template_id = args.serve_emulator
        serve_emulator(keys, port_file, int(n), 2, template_id)
        return

    import redis
    import sqlalchemy as sa

    from app import create_app, jobs
    from app.container import container_of
    from app.extensions import db
    from app.services import delivery, events
    from app.services.unit_of_work import atomic
    from config import TestingConfig
    from wechat.keys import generate_dev_keys, load_keys

    n = args.members
    workdir = Path(tempfile.mkdtemp(prefix="fanout-"))
    keys_dir = workdir / "keys"
    generate_dev_keys(keys_dir)
    keys = load_keys(keys_dir)
    templates_probe = create_app({**TestingConfig().as_dict(), "WECHAT_KEYS_DIR": str(keys_dir)})
    template = container_of(templates_probe).subscribe_templates["case_announced"]

    print(f"fan-out benchmark: {n:,} consenting members, {args.workers} RQ worker(s), chunk "
          f"{TestingConfig.NOTIFICATION_CHUNK_SIZE}", flush=True)
    port_file = workdir / "emulator.url"
    emulator = subprocess.Popen([sys.executable, __file__, "--serve-emulator", str(keys_dir), str(port_file), str(n),
                                 template.id], cwd=ROOT)
    workers: list[subprocess.Popen] = []
    try:
        reset_schema(args.database_url)
        cfg = TestingConfig().as_dict()
        cfg.update(SQLALCHEMY_DATABASE_URI=args.database_url, SQLALCHEMY_ENGINE_OPTIONS={},
                   WECHAT_KEYS_DIR=str(keys_dir), REDIS_URL=args.redis_url)
        app = create_app(cfg)
        now = dt.datetime.now(dt.timezone.utc)
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            from app.services.plans import load_catalogue

            load_catalogue(db.session, app.config["PLANS_FILE"], now)
            started = time.perf_counter()
            generate(db.engine, n, now)
            print(f"data generated (set-based SQL): {time.perf_counter() - started:.1f} s", flush=True)

            plan_id = db.session.execute(sa.text("SELECT id FROM plans WHERE code = 'adult_789'")).scalar_one()
            started = time.perf_counter()
            with atomic(db.session):
                events.record(db.session, "run.published", now=now, plan_id=plan_id, run_id=1,
                              payload={"share_fen": 150, "case_count": 2})
            outbox_seconds = time.perf_counter() - started
            written = db.session.execute(sa.text("SELECT count(*) FROM notifications")).scalar_one()
            print(f"outbox write: {written:,} rows in {outbox_seconds:.2f} s "
                  f"({written / outbox_seconds:,.0f} rows/s, one INSERT ... SELECT)", flush=True)

            while not port_file.exists():
                time.sleep(0.1)
            emulator_url = port_file.read_text()
            app.config["WECHAT_API_BASE"] = emulator_url
            redis.Redis.from_url(args.redis_url).flushdb()

            env = {**os.environ, "FLASK_APP": "wsgi", "APP_ENV": "development", "DATABASE_URL": args.database_url,
                   "REDIS_URL": args.redis_url, "WECHAT_API_BASE": emulator_url, "WECHAT_KEYS_DIR": str(keys_dir)}
            drain_started = time.perf_counter()
            for _ in range(args.workers):
                workers.append(subprocess.Popen([sys.executable, "-m", "flask", "notifications", "work"],
                                                cwd=ROOT, env=env))
            # The dispatcher runs alongside the workers, as `flask notifications dispatch --every` would.
            dispatched = 0
            while True:
                dispatched += jobs.dispatch(app, now=dt.datetime.now(dt.timezone.utc), max_chunks=20)
                left = db.session.execute(sa.text(
                    "SELECT count(*) FROM notifications WHERE status IN ('pending', 'queued', 'sending')")).scalar_one()
                db.session.commit()
                if left == 0:
                    break
                time.sleep(0.2)
            drain_seconds = time.perf_counter() - drain_started
            report = delivery.status(db.session, dt.datetime.now(dt.timezone.utc))
            print(f"drain (dispatcher + RQ): {report.by_status} in {drain_seconds:.1f} s = "
                  f"{written / drain_seconds:,.0f} messages/s", flush=True)
            sample = delivery._rows(db.session, [db.session.execute(sa.text(
                "SELECT min(id) FROM notifications")).scalar_one()])[0]
            data = delivery.render(template, sample)
        for worker in workers:
            worker.terminate()

        bare_count = args.bare or n
        bare_seconds = bare_loop(emulator_url, keys.appid, keys.secret, template, data, bare_count)
        bare_rate = bare_count / bare_seconds
        print(f"bare loop (requests.Session, same sends): {bare_count:,} in {bare_seconds:.1f} s = "
              f"{bare_rate:,.0f} messages/s", flush=True)
        ratio = (drain_seconds / written) / (bare_seconds / bare_count)
        print(f"ratio drain time / bare-loop time for the same messages: {ratio:.2f} "
              f"(target ≤ 1.4; ≥ 300 messages/s: {'yes' if written / drain_seconds >= 300 else 'no'})", flush=True)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        emulator.kill()


if __name__ == "__main__":
    main()
