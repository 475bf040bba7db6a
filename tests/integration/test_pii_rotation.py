"""PII key rotation: new writes under the newest key, look-ups during the dual-read period, a
rotation in chunks (resumable; on PostgreSQL SIGKILLed mid-way in a real subprocess and resumed),
and production refusing to start without a key stored data still uses."""
import base64
import datetime as dt
import signal
import subprocess
import sys

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.container import container_of
from app import create_app
from app.extensions import db
from app.models import Membership, PiiKey, User
from app.services.errors import Conflict
from app.services.memberships import JoinRequest
from app.services.pii import PiiProtector, key_id_of
from app.services.pii_rotation import MissingKey, check_configured_keys, rotate
from app.services.unit_of_work import atomic
from app.services.users import new_invite_code
from bench.pii_rotate import generate_encrypted_members
from config import PROJECT_ROOT, ConfigError
from tests.support import join_consented, make_id_number, no_answers, region_code, years_ago

NEW_KEY = base64.urlsafe_b64encode(b"N" * 32).decode()
NEW_HASH_KEY = base64.urlsafe_b64encode(b"M" * 32).decode()


def rotated_keys(app) -> PiiProtector:
    """The app's keys (v1) plus a newer v2 of each, as an operator configures them to rotate."""
    cfg = app.config
    return PiiProtector({"v1": cfg["PII_ENCRYPTION_KEY"], "v2": NEW_KEY},
                        {"v1": cfg["PII_HASH_KEY"], "v2": NEW_HASH_KEY})


def make_user(session, clock, openid="o-rot"):
    with atomic(session):
        user = User(openid=openid, invite_code=new_invite_code(), created_at=clock.now(), last_login_at=clock.now())
        session.add(user)
    return user.id


def join_people(session, pii, clock, user_id, count, start=0):
    people = {}
    for n in range(start, start + count):
        number = make_id_number(years_ago(clock.now().date(), 30, days=n), region=region_code(n))
        name = "测试" + "甲乙丙丁戊己庚辛壬癸"[n % 10]
        m = join_consented(session, pii, user_id=user_id, now=clock.now(),
                           request=JoinRequest("adult_789", name, number, "self", no_answers()))
        people[m.id] = (name, number)
    return people


def stored(session):
    return session.execute(sa.select(Membership.id, Membership.person_name_encrypted, Membership.person_id_encrypted,
                                     Membership.person_id_hash, Membership.person_id_hash_key)).all()


def assert_all_rotated(session, pii, people):
    rows = stored(session)
    assert {r.id for r in rows} == set(people)
    for row in rows:
        # readable, and exactly the original: a double encryption would decrypt to another ciphertext
        assert (pii.decrypt(row[1]), pii.decrypt(row[2])) == people[row.id]
        assert key_id_of(row[1]) == key_id_of(row[2]) == "v2" and row[4] == "v2"
        assert row[3] == pii.lookup_hash(people[row.id][1], "v2")


def test_rotation_in_chunks_resumes_and_the_dual_read_finds_old_rows(app, services, session, clock):
    user_id = make_user(session, clock)
    people = join_people(session, services.pii, clock, user_id, 12)
    assert {key_id_of(r[1]) for r in stored(session)} == {"v1"}
    keys = rotated_keys(app)

    # During the rotation: new writes use v2, and the same person stored under the v1 hash is found.
    old_name, old_number = people[min(people)]
    with pytest.raises(Conflict):
        join_consented(session, keys, user_id=user_id, now=clock.now(),
                       request=JoinRequest("adult_789", old_name, old_number, "self", no_answers()))
    people.update(join_people(session, keys, clock, user_id, 1, start=50))
    newest = session.get(Membership, max(people))
    assert key_id_of(newest.person_name_encrypted) == "v2" and newest.person_id_hash_key == "v2"

    partial = rotate(session, keys, now=clock.now(), chunk_size=5, max_chunks=2)
    assert not partial.finished and partial.rows_rewritten["memberships"] == 10  # ids 1..10
    assert {key_id_of(r[1]) for r in stored(session) if r.id > 10} == {"v1", "v2"}  # 11, 12 old; 13 new
    finished = rotate(session, keys, now=clock.now(), chunk_size=5)
    assert finished.finished and finished.rows_rewritten["memberships"] == 2  # the v2 row is left alone
    assert_all_rotated(session, keys, people)
    assert session.get(User, user_id).session_key_encrypted is None  # nothing stored: nothing to rotate
    again = rotate(session, keys, now=clock.now(), chunk_size=5)
    assert again.finished and again.chunks == 0  # finished rotations are not redone
    registry = {(k.kind, k.key_id): k.unreferenced_at for k in session.execute(sa.select(PiiKey)).scalars()}
    assert registry == {("encryption", "v1"): clock.now(), ("hash", "v1"): clock.now(),
                        ("encryption", "v2"): None, ("hash", "v2"): None}
    # After the rotation v1 may go: the v2 keys alone read everything and find every person.
    only_new = PiiProtector({"v2": NEW_KEY}, {"v2": NEW_HASH_KEY})
    check_configured_keys(session, only_new, clock.now())
    assert_all_rotated(session, only_new, people)


def test_a_row_written_under_the_old_key_behind_the_scan_is_caught(app, services, session, clock):
    user_id = make_user(session, clock)
    people = join_people(session, services.pii, clock, user_id, 4)
    keys = rotated_keys(app)
    rotate(session, keys, now=clock.now(), chunk_size=10, max_chunks=1)  # past every id so far
    people.update(join_people(session, services.pii, clock, user_id, 2, start=20))  # a process still on v1
    result = rotate(session, keys, now=clock.now(), chunk_size=10)
    assert result.finished
    assert_all_rotated(session, keys, people)


def test_production_refuses_to_start_without_a_key_stored_data_uses(app, services, session, clock):
    user_id = make_user(session, clock)
    join_people(session, services.pii, clock, user_id, 1)
    check_configured_keys(session, services.pii, clock.now())  # registers v1 as in use
    only_new = PiiProtector({"v2": NEW_KEY}, {"v2": NEW_HASH_KEY})
    with pytest.raises(MissingKey, match="encryption key v1, hash key v1"):
        check_configured_keys(session, only_new, clock.now())
    cfg = dict(app.config)
    cfg.update(PII_KEY_CHECK_ON_START=True, PII_ENCRYPTION_KEYS=f"v2:{NEW_KEY}", PII_HASH_KEYS=f"v2:{NEW_HASH_KEY}")
    session.remove()
    with pytest.raises(ConfigError, match="still uses encryption key v1"):
        create_app(cfg)
    cfg.update(PII_ENCRYPTION_KEYS=f"v1:{app.config['PII_ENCRYPTION_KEY']},v2:{NEW_KEY}",
               PII_HASH_KEYS=f"v1:{app.config['PII_HASH_KEY']},v2:{NEW_HASH_KEY}")
    assert container_of(create_app(cfg)).pii.key_id == "v2"


_ROTATOR = """
import sys, datetime as dt, sqlalchemy as sa
from sqlalchemy.orm import Session
from app.services.pii import PiiProtector
from app.services.pii_rotation import rotate
url, old, new, old_hash, new_hash = sys.argv[1:6]
keys = PiiProtector({"v1": old, "v2": new}, {"v1": old_hash, "v2": new_hash})
engine = sa.create_engine(url)
with Session(engine) as s:  # one line per committed chunk: the parent kills between (or inside) them
    rotate(s, keys, now=dt.datetime.now(dt.timezone.utc), chunk_size=int(sys.argv[6]),
           on_chunk=lambda table, last_id: print("chunk", table, last_id, flush=True))
print("done", flush=True)
"""


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_rotation_sigkilled_mid_way_then_resumed(app, db_url, clock):
    engine = sa.create_engine(db_url)
    with Session(engine) as s, s.begin():
        pool = generate_encrypted_members(s, container_of(app).pii, "adult_789", 3_000, clock.now(),
                                          distinct=3_000, state="protected")
    people = {mid: pool[mid % 3_000] for (mid,) in db.session.execute(sa.text("SELECT id FROM memberships"))}
    keys = rotated_keys(app)
    cfg = app.config
    for kill_after in (3, 11):
        proc = subprocess.Popen([sys.executable, "-c", _ROTATOR, db_url, cfg["PII_ENCRYPTION_KEY"], NEW_KEY,
                                 cfg["PII_HASH_KEY"], NEW_HASH_KEY, "100"],
                                cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(kill_after):
            assert proc.stdout.readline().startswith("chunk")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        with Session(engine) as s:
            on_new = s.execute(sa.text("SELECT COUNT(*) FROM memberships WHERE person_id_encrypted LIKE 'v2:%'")
                               ).scalar_one()
            assert 0 < on_new < 3_000  # killed mid-way: some rows moved, others not yet
    with Session(engine) as s:
        result = rotate(s, keys, now=clock.now() + dt.timedelta(minutes=1), chunk_size=100)
        assert result.finished
        assert_all_rotated(s, keys, people)
    engine.dispose()


def test_flask_pii_rotate_stops_after_max_chunks_and_resumes(app, services, session, clock, runner):
    user_id = make_user(session, clock)
    people = join_people(session, services.pii, clock, user_id, 5)
    keys = rotated_keys(app)
    services.pii = keys  # the processes restarted with both keys configured
    first = runner.invoke(args=["pii", "rotate", "--chunk-size", "2", "--max-chunks", "1", "--progress"])
    assert first.exit_code == 0 and "chunk committed: memberships up to id 2" in first.output
    assert "run again to resume" in first.output
    second = runner.invoke(args=["pii", "rotate", "--chunk-size", "2"])
    assert second.exit_code == 0 and "memberships: 3 rows rewritten" in second.output
    assert "no longer referenced: encryption v1, hash v1" in second.output
    assert_all_rotated(session, keys, people)
