"""Benchmark: a rule change over N synthetic members on PostgreSQL — proposing (plans load), the live
tally (the public page's two grouped queries) with N/5 answers, closing, and coming into force (one
UPDATE of every active membership, one transaction) against a bare UPDATE of the same rows measured in
the same run (rolled back, so its time excludes a COMMIT; the table is vacuumed before the engine runs).

    .venv/bin/python bench/rule_changes.py [--sizes 100000,1000000] [--url postgresql://…/bench_consent]
    env: BENCH_RULE_CHANGES_URL (the database is wiped: its public schema is dropped and re-created)
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = os.environ.get("BENCH_RULE_CHANGES_URL", "postgresql://postgres@127.0.0.1:5432/bench_consent")
NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.timezone.utc)
PLAN = "adult_789"
BARE = ("UPDATE memberships SET plan_version_id = :to WHERE plan_id = :plan "
        "AND state IN ('pending', 'observing', 'protected', 'suspended') AND plan_version_id <> :to")


def _timed(call):
    started = time.perf_counter()
    result = call()
    return result, round(time.perf_counter() - started, 2)


def engine_of(session):
    return session.get_bind()


def one_size(url: str, members: int) -> dict:
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import RuleChangeProposal
    from app.services import rule_changes
    from bench.synthetic import generate_members, migrated_app
    from tests.rule_change_support import changed_catalogue

    os.environ["DATABASE_URL"] = url  # migrated_app configures the app from the environment
    app = migrated_app(url, fresh=True, now=NOW)
    with app.app_context():
        from app.services.plans import load_catalogue

        session = db.session
        _, generate_s = _timed(lambda: (generate_members(session, PLAN, members, NOW), session.commit()))
        changed = changed_catalogue(app.config["PLANS_FILE"], Path(tempfile.mkdtemp()), PLAN, share_cap_fen=200)
        _, propose_s = _timed(lambda: load_catalogue(session, changed, NOW))
        proposal = session.execute(sa.select(RuleChangeProposal)).scalar_one()
        session.execute(sa.text(
            "INSERT INTO rule_change_answers (proposal_id, membership_id, user_id, answer, answered_at) "
            "SELECT :p, m.id, m.user_id, CASE WHEN m.id % 4 = 0 THEN 'disagree' ELSE 'agree' END, :now "
            "FROM memberships m WHERE m.id % 5 = 0"), {"p": proposal.id, "now": NOW})
        session.commit()
        session.execute(sa.text("ANALYZE"))
        tally, tally_s = _timed(lambda: rule_changes.live_tally(session, proposal))
        session.rollback()
        _, close_s = _timed(lambda: rule_changes.close(session, proposal.id, proposal.window_closes_at))
        plan_id, to = proposal.plan_id, proposal.to_version_id
        _, bare_s = _timed(lambda: session.execute(sa.text(BARE), {"plan": plan_id, "to": to}))
        session.rollback()
        with engine_of(session).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE memberships"))  # the rolled-back rows: not the engine's cost
        _, force_s = _timed(lambda: rule_changes.bring_into_force(session, proposal.id, proposal.effective_at))
        moved = session.get(RuleChangeProposal, proposal.id).moved_count
    return {"members": members, "generate_s": generate_s, "propose_s": propose_s, "answers": tally.answered,
            "tally_s": tally_s, "close_s": close_s, "in_force_s": force_s, "bare_update_s": bare_s,
            "ratio": round(force_s / bare_s, 2) if bare_s else None, "moved": moved}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--url", default=DEFAULT_URL)
    args = parser.parse_args()
    print(f"{'members':>9} {'propose s':>9} {'answers':>8} {'tally s':>7} {'close s':>7} {'in force s':>10} "
          f"{'bare UPDATE s':>13} {'ratio':>5} {'moved':>9}")
    for size in (int(x) for x in args.sizes.split(",")):
        r = one_size(args.url, size)
        print(f"{r['members']:>9} {r['propose_s']:>9} {r['answers']:>8} {r['tally_s']:>7} {r['close_s']:>7} "
              f"{r['in_force_s']:>10} {r['bare_update_s']:>13} {r['ratio']:>5} {r['moved']:>9}", flush=True)


if __name__ == "__main__":
    main()
