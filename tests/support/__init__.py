"""What tests share, by subject; import it from here (`from tests.support import login, member`):

- environment: the servers (PG_URL, REDIS_URL, IN_CI, unreachable), the app's test configuration,
  a clean migrated database, the app running on it (the fixtures in tests/conftest.py use these)
- people: synthetic ID numbers and birthdays, the health declaration
- consent: the privacy policy and the consents a join or a claim carries
- builders: users, members, claims, rule versions, money, operators, events (below the API)
- reads: balances, states, a run's postings, the notification outbox
- api: the API as the mini-program and the operators' tools call it (logins, joins, top-ups, claims)
- emulator: the WeChat emulator from the test's side, and the faults a test plants in it
- console: the operators' console forms, sign-in and TOTP
- transparency: an executed run, an independent Merkle root, the tamperer's SQL
- waiting: wait_until, for asynchronous things that must happen (never to conclude they did not)
- merkle_vectors: the vectors shared with the mini-program's verifier (tests/vectors/merkle.json)
"""
from tests.support.api import (claim_body, join, join_and_fund, join_body, login, login_as, mint_code,
                               operator_login, order_topup, paid_topup)
from tests.support.builders import (PASSWORD, add_claim, add_members, add_paid_orders, add_version,
                                    leave_and_refund, make_operator, make_protected, make_staff, make_user, member,
                                    new_user, pay_aid, record, seed_surplus, settle_collected, top_up,
                                    wind_down_in_final_run)
from tests.support.console import csrf_of, enrol_totp, post_form, second_factor, sign_in, sign_in_fully
from tests.support.consent import CLAIM_CONSENT, JOIN_CONSENT, POLICY, join_consented, report_consented
from tests.support.emulator import (DISCARD_URL, NOTIFY_PATH, REFUND_NOTIFY_PATH, RecordingPay, consent, decode_qr,
                                    delivered, live_server, notification_body, phone_pays, point_notifications_at,
                                    signed, transaction_of)
from tests.support.fixtures import alice, bob
from tests.support.environment import (IN_CI, PG_URL, REDIS_URL, START, app_config, clean_database, migrate,
                                       reset_database, running_app, unreachable)
from tests.support.people import REGION_CODES, make_id_number, no_answers, region_code, years_ago
from tests.support.reads import balances, plan_id, rows, run_postings, states
from tests.support.transparency import (a_debit, executed_run, independent_leaf_hashes, independent_root,
                                        tamper)
from tests.support.waiting import NotReached, wait_until

__all__ = [
    "CLAIM_CONSENT", "DISCARD_URL", "IN_CI", "JOIN_CONSENT", "NOTIFY_PATH", "NotReached", "PASSWORD", "PG_URL",
    "POLICY", "REDIS_URL", "REFUND_NOTIFY_PATH", "REGION_CODES", "RecordingPay", "START", "a_debit", "add_claim",
    "add_members", "add_paid_orders", "add_version", "alice", "app_config", "bob", "balances", "claim_body", "clean_database",
    "consent", "csrf_of", "decode_qr", "delivered", "enrol_totp", "executed_run", "independent_leaf_hashes",
    "independent_root", "join",
    "join_and_fund", "join_body", "join_consented", "leave_and_refund", "live_server", "login", "login_as",
    "make_id_number", "make_operator", "make_protected", "make_staff", "make_user", "member", "migrate", "mint_code",
    "new_user", "no_answers", "notification_body", "operator_login", "order_topup", "paid_topup", "pay_aid", "phone_pays",
    "plan_id", "point_notifications_at", "post_form", "record", "region_code", "report_consented",
    "reset_database", "rows", "run_postings", "running_app", "second_factor", "seed_surplus", "settle_collected",
    "sign_in", "sign_in_fully", "signed", "states", "tamper", "top_up", "transaction_of", "unreachable",
    "wait_until", "wind_down_in_final_run", "years_ago",
]
