"""Per-request profile of the API's hot reads, in-process through Flask's test client, on the database
loaded by bench/api_load.py (run it once with --reuse first; the bench members' tokens are issued here).

For each endpoint: SQL statements per request (each one a round trip; the pool's pre-ping, BEGIN and
ROLLBACK included, as psycopg2 sends them), CPU ms per request (process time, the part a gunicorn
worker cannot overlap), wall ms per request, and with --profile the top functions by cumulative time
(cProfile).

    .venv/bin/python bench/profile_api.py [--requests 1000] [--only memberships,plans] [--profile]
    env: BENCH_DATABASE_URL, BENCH_REDIS_URL (as bench/api_load.py)
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_load import API_PORT, DEFAULT_REDIS, DEFAULT_URL, PLAN, _env  # noqa: E402


def _statement_counter(engine) -> list[str]:
    """Every statement the engine's connections send, and BEGIN/ROLLBACK/COMMIT as the pool does them."""
    import sqlalchemy as sa

    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda c, cur, statement, *a: seen.append(statement.split()[0]))
    sa.event.listen(engine, "begin", lambda conn: seen.append("BEGIN"))
    sa.event.listen(engine, "rollback", lambda conn: seen.append("ROLLBACK"))
    sa.event.listen(engine, "commit", lambda conn: seen.append("COMMIT"))
    sa.event.listen(engine.pool, "reset", lambda dbapi, record, reset_state: seen.append("RESET"))
    return seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--only", default=None, help="comma-separated: memberships,plans,plan,announcements,bare")
    parser.add_argument("--direct", action="store_true", help="call the WSGI app directly (no test client)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--sort", default="cumulative", help="cProfile order: cumulative, tottime, ...")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default=None, help="only functions whose file:line(name) matches this regex")
    args = parser.parse_args()
    os.environ.update({k: v for k, v in _env(args.url, args.redis_url, API_PORT).items() if k != "PORT"})

    import sqlalchemy as sa

    from app import create_app
    from app.container import container_of
    from app.extensions import db

    app = create_app()
    with app.app_context():
        engine = db.engine
        row = db.session.execute(sa.text(
            "SELECT m.id, m.user_id FROM memberships m JOIN users u ON u.id = m.user_id "
            "WHERE u.openid LIKE 'o-bench-%' ORDER BY m.id LIMIT 1")).one()
        db.session.remove()
    token = container_of(app).member_tokens.issue(row.user_id)
    auth = {"Authorization": f"Bearer {token}"}
    endpoints = {
        "memberships": (f"/api/v1/memberships/{row.id}", auth),
        "plans": ("/api/v1/plans", {}),
        "plan": (f"/api/v1/plans/{PLAN}", {}),
        "plan_304": (f"/api/v1/plans/{PLAN}", None),  # If-None-Match with the current ETag
        "announcements": ("/api/v1/announcements", {}),
    }
    wanted = args.only.split(",") if args.only else ["bare", *endpoints]
    seen = _statement_counter(engine)
    checkouts: list[int] = []
    sa.event.listen(engine.pool, "checkout", lambda *a: checkouts.append(1))
    from bench.bare_app import app as bare_app
    from bench.bare_app import db as bare_db

    with bare_app.app_context():
        bare_seen = _statement_counter(bare_db.engine)
    for name in wanted:
        if name == "bare":
            client, path, headers, counted = bare_app.test_client(), f"/memberships/{row.id}", {}, bare_seen
        else:
            client, (path, headers), counted = app.test_client(), endpoints[name], seen
        if headers is None:
            headers = {"If-None-Match": client.get(path).headers["ETag"]}
        for _ in range(20):  # warm: pool, caches
            response = client.get(path, headers=headers)
        expected = response.status_code
        counted.clear()
        checkouts.clear()
        profiler = cProfile.Profile() if args.profile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        if args.direct:  # the app's WSGI callable with a ready environ: no test-client work in the figures
            from werkzeug.test import EnvironBuilder

            template = EnvironBuilder(path=path, headers=headers).get_environ()
            target = client.application
            statuses: list[str] = []

            def start_response(status, response_headers, exc_info=None):
                statuses.append(status)

            for _ in range(args.requests):
                environ = dict(template, **{"wsgi.input": io.BytesIO(b"")})
                body = target(environ, start_response)
                b"".join(body)
                getattr(body, "close", lambda: None)()
            assert all(s.startswith(str(expected)) for s in statuses), (name, statuses[:3])
        else:
            for _ in range(args.requests):
                response = client.get(path, headers=headers)
                assert response.status_code == expected, (name, response.status_code)
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        kinds: dict[str, int] = {}
        for statement in counted:
            kinds[statement.upper()] = kinds.get(statement.upper(), 0) + 1
        per = {k: round(v / args.requests, 2) for k, v in sorted(kinds.items())}
        print(f"{name} ({expected}): {cpu / args.requests * 1000:.2f} ms CPU, {wall / args.requests * 1000:.2f} ms wall "
              f"per request; statements per request: {per}"
              + (f", pool checkouts {len(checkouts) / args.requests:.2f}" if name != "bare" else ""), flush=True)
        if profiler:
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(*([args.match] if args.match else []), args.top)


if __name__ == "__main__":
    main()
