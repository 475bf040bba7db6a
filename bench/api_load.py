"""Benchmark: the public pages and a member's own pages at 1,000,000 members, against a bare Flask +
Flask-SQLAlchemy primary-key read measured in the same run under the same gunicorn settings.

Data (database `bench_scale`, wiped unless --reuse): bench.synthetic.generate_members (set-based), then
BENCH_USERS members are given their own users and real encrypted names (the member endpoints decrypt
them), and 60 cases are put in publicity (announcements). The API runs as `gunicorn --config
deploy/gunicorn.conf.py wsgi:app` (2 workers × 4 threads), the bare app as bench/bare_app.py with
the same config, each worker holding half of wrk's connections; `wrk` (Debian package, installed when
missing) keeps 32 connections open on each endpoint in turn for --seconds, then on a weighted mix
(bench/api_mix.lua). Figures: requests/s,
p50/p99 latency, requests/s as a share of the bare read's, the 1-minute load average before each.

    .venv/bin/python bench/api_load.py [--members 1000000] [--seconds 10] [--connections 32] [--reuse]
    env: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/bench_scale), BENCH_REDIS_URL
    (default redis://127.0.0.1:6379/8; the API caches public answers there)
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_scale")
DEFAULT_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.timezone.utc)
PLAN = "adult_789"
BENCH_USERS = 200
API_PORT, BARE_PORT = 8791, 8792


def _env(url: str, redis_url: str, port: int, workers: int = 2, threads: int = 4, connections: int = 1000) -> dict:
    # wrk's connections are kept alive: split them evenly between the workers (deploy/gunicorn.conf.py,
    # worker_connections), else the accept race sometimes gives one worker all of them and halves the figure.
    return {**os.environ, "APP_ENV": "development", "DATABASE_URL": url, "REDIS_URL": redis_url, "PORT": str(port),
            "WEB_CONCURRENCY": str(workers), "GUNICORN_THREADS": str(threads), "LOG_LEVEL": "WARNING",
            "GUNICORN_WORKER_CONNECTIONS": str(-(-connections // workers)),
            "WECHAT_KEYS_DIR": str(ROOT / "instance" / "wechat-keys")}


def load_data(url: str, redis_url: str, members: int, reuse: bool) -> dict:
    """The database with `members` memberships; returns what the load needs (tokens, ids)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from app.container import container_of
    from bench.synthetic import generate_members, migrated_app

    os.environ.update({k: v for k, v in _env(url, redis_url, API_PORT).items() if k != "PORT"})
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        present = conn.execute(sa.text("SELECT to_regclass('memberships') IS NOT NULL")).scalar() and \
            conn.execute(sa.text("SELECT count(*) FROM memberships")).scalar()
    app = migrated_app(url, fresh=not (reuse and present == members), now=NOW)
    if not (reuse and present == members):
        started = time.perf_counter()
        with Session(engine) as s, s.begin():
            generate_members(s, PLAN, members, NOW)
            _bench_members(s, container_of(app).pii)
        print(f"generated {members:,} members in {time.perf_counter() - started:.1f} s", flush=True)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    # As the scheduler keeps them in production: the public figures fresh by the real clock.
    from app.services import plan_stats

    with Session(engine) as s:
        plan_stats.refresh(s, dt.datetime.now(dt.timezone.utc), 24)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT m.id, m.user_id FROM memberships m JOIN users u ON u.id = m.user_id "
                                    "WHERE u.openid LIKE 'o-bench-%' ORDER BY m.id")).all()
    engine.dispose()
    tokens = container_of(app).member_tokens
    return {"members": [{"id": m, "token": tokens.issue(u)} for m, u in rows]}


def _bench_members(session, pii) -> None:
    """The first BENCH_USERS memberships get a user each and a real encrypted name; 60 cases in publicity."""
    import sqlalchemy as sa

    run = session.execute
    run(sa.text("INSERT INTO users (openid, invite_code, created_at, last_login_at) "
                "SELECT 'o-bench-' || g, 'inv-bench-' || g, :now, :now FROM generate_series(1, :k) g"),
        {"now": NOW, "k": BENCH_USERS})
    run(sa.text("UPDATE memberships m SET user_id = u.id FROM users u "
                "WHERE u.openid = 'o-bench-' || m.id AND m.id <= :k"), {"k": BENCH_USERS})
    run(sa.text("UPDATE memberships SET person_name_encrypted = :name, person_id_encrypted = :pid WHERE id = :id"),
        [{"id": i, "name": pii.encrypt(f"成员{i}"), "pid": pii.encrypt("11010119900101001X")}
         for i in range(1, BENCH_USERS + 1)])
    run(sa.text("""
        INSERT INTO claims (user_id, membership_id, plan_id, status, incident_type, incident_date, diagnosis_date,
            diagnosis, hospital, city, description, approved_aid_fen, investigation_summary,
            publicity_started_at, publicity_ends_at, submitted_at, updated_at)
        SELECT m.user_id, m.id, m.plan_id, 'publicity', 'illness', DATE '2026-05-05', DATE '2026-05-06', '恶性肿瘤',
               '某医院', '杭州', '', 100000 + m.id, '经调查属实', :now - (m.id || ' hours')::interval,
               :now + INTERVAL '3 days', :now, :now
          FROM memberships m WHERE m.id > :k AND m.id <= :k + 60"""), {"now": NOW, "k": BENCH_USERS})


def _serve(app_path: str, env: dict) -> subprocess.Popen:
    process = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "--config",
                                str(ROOT / "deploy" / "gunicorn.conf.py"), app_path],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    return process


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # a benchmark waiting for its server: polling is fine here
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in 60 s")


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def wrk(url: str, seconds: int, connections: int, *, headers: dict | None = None, script: Path | None = None) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    load = os.getloadavg()[0]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+(?:us|ms|s|m))\s*$", out, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)$", out, re.M)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            # a percentile line is missing when no request completed within the timeout
            "p50_ms": round(_ms(latency["50"]), 2) if "50" in latency else None,
            "p99_ms": round(_ms(latency["99"]), 2) if "99" in latency else None,
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0, "socket_errors": errors.group(1) if errors else None,
            "load_1m": round(load, 2)}


def _mix_script(members: list[dict], path: Path) -> Path:
    """A wrk script: each request picks a page by weight; member pages with a member's own token."""
    pages = json.dumps([{"id": m["id"], "token": m["token"]} for m in members[:50]])
    path.write_text(f"""
local members = {{}}
for _, m in ipairs({pages.replace('[', '{').replace(']', '}').replace('"id":', 'id=').replace('"token":', 'token=')}) do
  table.insert(members, m)
end
local weighted = {{
  {{30, "/api/v1/plans"}}, {{20, "/api/v1/plans/{PLAN}"}}, {{15, "/api/v1/announcements"}},
  {{20, "/api/v1/memberships/%d"}}, {{10, "/api/v1/memberships/%d/ledger"}}, {{5, "/api/v1/memberships/%d/deductions"}},
}}
local n = 0
request = function()
  n = n + 1
  local roll, total = (n * 7919) % 100, 0
  for _, w in ipairs(weighted) do
    total = total + w[1]
    if roll < total then
      local m = members[(n % #members) + 1]
      if string.find(w[2], "%%d") then
        return wrk.format("GET", string.format(w[2], m.id), {{["Authorization"] = "Bearer " .. m.token}})
      end
      return wrk.format("GET", w[2])
    end
  end
end
""")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--reuse", action="store_true", help="keep the data when it has --members members")
    parser.add_argument("--only", default=None, help="comma-separated endpoint names (default: all)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY), both apps")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker, both apps")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every endpoint this many times, the bare read first in each round")
    parser.add_argument("--interleave", action="store_true",
                        help="the bare read before and after every endpoint; shares against the mean of those two")
    parser.add_argument("--load-only", action="store_true", help="load (or keep, with --reuse) the data and stop")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)

    data = load_data(args.url, args.redis_url, args.members, args.reuse)
    if args.load_only:
        return
    member = data["members"][0]
    auth = {"Authorization": f"Bearer {member['token']}"}
    api, bare = (f"http://127.0.0.1:{API_PORT}", f"http://127.0.0.1:{BARE_PORT}")
    endpoints = [
        ("bare primary-key read", bare + "/memberships/1", None),
        ("GET /plans (home page)", api + "/api/v1/plans", None),
        (f"GET /plans/{PLAN}", api + f"/api/v1/plans/{PLAN}", None),
        ("GET /announcements", api + "/api/v1/announcements", None),
        ("GET /memberships/{id}", api + f"/api/v1/memberships/{member['id']}", auth),
        ("GET /memberships/{id}/ledger", api + f"/api/v1/memberships/{member['id']}/ledger", auth),
        ("GET /memberships/{id}/deductions", api + f"/api/v1/memberships/{member['id']}/deductions", auth),
        ("mix (30/20/15/20/10/5)", api + "/", "mix"),
    ]
    if args.only:
        wanted = {"bare primary-key read", *args.only.split(",")}
        endpoints = [e for e in endpoints if e[0] in wanted]
    gunicorn = {"workers": args.workers, "threads": args.threads, "connections": args.connections}
    servers = [_serve("wsgi:app", _env(args.url, args.redis_url, API_PORT, **gunicorn)),
               _serve("bench.bare_app:app", _env(args.url, args.redis_url, BARE_PORT, **gunicorn))]
    results = []
    try:
        _wait_ready(api + "/api/v1/plans")
        _wait_ready(bare + "/memberships/1")
        mix = _mix_script(data["members"], Path("/tmp") / f"yiqi-api-mix-{os.getpid()}.lua")
        bare_endpoint = endpoints[0]
        for round_ in range(1, args.rounds + 1):
            order = endpoints
            if args.interleave:  # bare, e1, bare, e2, ..., bare: each endpoint between two bare reads
                order = [bare_endpoint]
                for endpoint in endpoints[1:]:
                    order += [endpoint, bare_endpoint]
            for name, url, extra in order:
                wrk(url if extra != "mix" else api + "/", 2, args.connections,  # warm-up: caches, connection pools
                    headers=extra if isinstance(extra, dict) else None, script=mix if extra == "mix" else None)
                figures = wrk(url, args.seconds, args.connections, headers=extra if isinstance(extra, dict) else None,
                              script=mix if extra == "mix" else None)
                results.append({"round": round_, "endpoint": name, **figures})
                print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    finally:
        Path("/tmp", f"yiqi-api-mix-{os.getpid()}.lua").unlink(missing_ok=True)
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    print(f"\n{args.members:,} members, {args.connections} connections, {args.seconds} s each, "
          f"gunicorn {args.workers} workers × {args.threads} threads (both apps)"
          + (", each endpoint between two bare reads" if args.interleave else "") + "\n")
    print("| round | endpoint | requests/s | p50 ms | p99 ms | share of bare | load avg (1 min) | non-2xx |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for i, r in enumerate(results):
        bare = [b["rps"] for b in results if b["round"] == r["round"] and b["endpoint"] == results[0]["endpoint"]]
        if args.interleave and r["endpoint"] != results[0]["endpoint"]:
            bare = [results[i - 1]["rps"], results[i + 1]["rps"]]  # the bare reads just before and after
        share = "" if r["endpoint"] == results[0]["endpoint"] else f"{r['rps'] / (sum(bare) / len(bare)):.0%}"
        print(f"| {r['round']} | {r['endpoint']} | {r['rps']:,.0f} | {r['p50_ms']} | {r['p99_ms']} "
              f"| {share} | {r['load_1m']} | {r['non_2xx']} |")

if __name__ == "__main__":
    main()
