"""`flask demo seed`: a lived-in platform for local development, made with time injected.

What a newcomer sees after it: a family (openid `demo-family`, log in through the emulator) whose
memberships are pending, observing, protected, suspended, left and aided, with top-ups, deductions,
refunds, a case in review and subscribe consents; and around it N synthetic members in every plan,
two executed runs per plan, cases collected and paid, a case in publicity with an objection.

Everything that has a service goes through it at a past moment: joins, top-ups (the notification's
credit path, payments.settle_transaction), claims from report to payout, apportionment runs
(prepare, publish, execute), leaves and refunds, members advancing. WeChat of that past is
demo.PastWeChat (everything it was asked succeeded); the history's notifications end as delivery
would have ended them then, skipped for want of consent. The bulk of the members is written
set-based (one INSERT per table and chunk) in the shape those services write: pending → observing on
a paid order, one balanced ledger transaction per top-up keyed by its transaction id, balances equal
to their postings; `flask ledger audit` passes afterwards. Synthetic names and checksum-valid ID
numbers with real region codes and made-up serials: nobody in particular."""
from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass, field

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from app.models import Account, LedgerTransaction, Membership, Plan, PlanVersion, Posting, User
from app.models.payments import PaymentOrder

from . import apportionment, claims, consents, ledger, membership_secrets, memberships, payouts, refunds, subscriptions
from .clock import china_date
from .demo import PastWeChat, demo_staff, paid_topup, report_case
from .errors import Conflict
from .idcard import SYNTHETIC_REGION_CODES, check_character
from .memberships import JoinRequest
from .payments import ORDER_TTL, TOPUP_KEY_PREFIX, new_out_trade_no
from .pii import PiiProtector, mask_id_number, mask_name
from .plans import get_plan
from .unit_of_work import atomic, reading
from .users import new_invite_code

FAMILY_OPENID = "demo-family"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["晓明", "建国", "秀英", "桂兰", "志强", "海燕", "子涵", "一诺", "浩然", "雨桐", "俊杰", "欣怡", "文博", "思远"]
TOPUP_AMOUNTS = (300, 500, 800, 1_000, 2_000, 5_000)
# 300 and 500 cannot pay the first run's two cases (suspended, lapsed by now); 800 cannot pay the second's
TOPUP_WEIGHTS = (3, 4, 6, 30, 37, 20)


def _approved_aid(rules: dict) -> int:
    """Half the plan's maximum (≥ 50,000 yuan): above what a demo run collects, so a case is capped
    at share cap × payers and the share is the cap."""
    return rules["aid_table"][0]["max_aid_fen"] // 2
CHUNK = 2_000  # rows per INSERT statement (SQLite allows ~32k bound parameters per statement)


@dataclass
class SeedReport:
    members: int = 0
    users: int = 0
    family_user_id: int = 0
    runs: list[int] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)
    claims: dict[str, int] = field(default_factory=dict)


@dataclass
class _Timeline:
    now: dt.datetime

    def days_ago(self, days: float) -> dt.datetime:
        return self.now - dt.timedelta(days=days)

    @property
    def first_cut_off(self) -> dt.datetime:
        return self.days_ago(40)

    @property
    def second_cut_off(self) -> dt.datetime:
        return self.days_ago(10)


def _answers(rules: dict, group: dict) -> dict[str, bool]:
    answers = {q["key"]: False for q in rules["health_questions"]}
    answers.update({key: True for key in group.get("required_answers", [])})
    return answers


def _id_number(index: int, birth: dt.date, sex: str) -> str:
    """Unique per index below 40,000 (80 regions × 500 serials: `flask demo seed --members` stops there),
    the serial carries the sex (odd = male)."""
    region = SYNTHETIC_REGION_CODES[(index // 500) % len(SYNTHETIC_REGION_CODES)]
    body = f"{region}{birth:%Y%m%d}{(index % 500) * 2 + (sex == 'M'):03d}"
    return body + check_character(body)


def _birth(rng: random.Random, group: dict, on: dt.date) -> dt.date:
    low = max(group["min_age"].get("years", 1), 1)
    years = rng.randint(low, max(group["max_age_years"] - 1, low))
    return on.replace(year=on.year - years, day=min(on.day, 28)) - dt.timedelta(days=rng.randint(1, 300))


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _relation(group: dict, slot: int) -> str:
    if group["max_age_years"] <= 17:
        return "child"
    return ("self", "spouse", "parent")[slot % 3] if group["min_age"].get("years", 0) < 50 else "parent"


def _insert_returning_ids(session: Session, model, rows: list[dict]) -> list[int]:
    """Core executemany (batched multi-row INSERTs), ids in the rows' order."""
    table = model.__table__
    statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return list(session.execute(statement, rows).scalars()) if rows else []


def _bulk_members(session: Session, pii: PiiProtector, versions: dict[str, PlanVersion], count: int,
                  when: _Timeline, rng: random.Random) -> list[tuple[int, int]]:
    """`count` memberships in families of three (three plans each), written set-based. Most joined
    230–330 days ago and were paid at once (observing; members.advance protects them), a tenth
    joined 20–100 days ago, 3% are still pending. Returns (user id, membership id) of the paid ones."""
    codes = sorted(versions)
    users = [dict(openid=f"demo-{secrets.token_hex(6)}", invite_code=new_invite_code(), created_at=when.days_ago(340),
                  last_login_at=when.days_ago(rng.uniform(0, 30))) for _ in range((count + 2) // 3)]
    user_ids = _insert_returning_ids(session, User, users)
    rows, plan_ids, topups = [], [], []
    plan_of = {code: session.execute(select(Plan.id).where(Plan.code == code)).scalar_one() for code in codes}
    for index in range(count):
        family, slot = divmod(index, 3)
        code = codes[(slot * 2 + family % 2) % len(codes)]
        version = versions[code]
        rules = version.rules
        group = rules["eligibility"][0]
        kind = rng.random()
        joined = when.days_ago(rng.uniform(1, 7) if kind < 0.03 else rng.uniform(20, 100) if kind < 0.13
                               else rng.uniform(230, 330))
        sex = group.get("sex") or ("M" if index % 2 else "F")
        birth = _birth(rng, group, china_date(joined))
        number, name = _id_number(index, birth, sex), _name(rng)
        paid = None if kind < 0.03 else joined + dt.timedelta(minutes=10)
        observation = dt.timedelta(days=rules["observation_days"])
        rows.append(dict(
            user_id=user_ids[family], plan_id=plan_of[code], plan_version_id=version.id,
            relation=_relation(group, slot), person_name_encrypted=pii.encrypt(name),
            person_name_masked=mask_name(name), person_id_encrypted=pii.encrypt(number),
            person_id_hash=pii.lookup_hash(number), person_id_masked=mask_id_number(number), birth_date=birth,
            sex=sex, eligibility_group=group["label"], declaration=_answers(rules, group),
            state="pending" if paid is None else "observing", joined_at=joined, state_changed_at=paid or joined,
            observation_starts_at=paid, observation_ends_at=paid + observation if paid else None,
            sponsor_token=secrets.token_urlsafe(16)))
        plan_ids.append(plan_of[code])
        topups.append((paid, rng.choices(TOPUP_AMOUNTS, TOPUP_WEIGHTS)[0]))
    membership_ids = _insert_returning_ids(session, Membership, rows)
    membership_secrets.create_secrets(session, membership_ids)  # as join creates them
    account_ids = _insert_returning_ids(session, Account, [
        dict(code=ledger.member_account_code(m), kind="member", plan_id=p, membership_id=m, balance_fen=0,
             allow_negative=False, created_at=r["joined_at"]) for m, p, r in zip(membership_ids, plan_ids, rows)])
    paid_ones = [(r["user_id"], m, a, at, fen) for r, m, a, (at, fen) in zip(rows, membership_ids, account_ids, topups)
                 if at is not None]
    _bulk_topups(session, paid_ones)
    return [(user_id, membership_id) for user_id, membership_id, *_ in paid_ones]


def _bulk_topups(session: Session, paid: list[tuple[int, int, int, dt.datetime, int]]) -> None:
    """One paid order and one balanced ledger transaction per top-up, as settle_transaction writes
    them; each INSERT of postings holds whole transactions (PostgreSQL checks each statement's sums)."""
    pay_in = ledger.account_id(session, "system:wechat_pay_in")
    transaction_ids = ["DEMO" + secrets.token_hex(12).upper() for _ in paid]
    order_ids = _insert_returning_ids(session, PaymentOrder, [
        dict(out_trade_no=new_out_trade_no(at), membership_id=m, payer_user_id=u, amount_fen=fen, status="paid",
             prepay_id="demo", transaction_id=tid, created_at=at, expires_at=at + ORDER_TTL, paid_at=at)
        for (u, m, _, at, fen), tid in zip(paid, transaction_ids)])
    entries = []
    for (user_id, _, account, at, fen), order_id, tid in zip(paid, order_ids, transaction_ids):
        legs = [ledger.Leg(account, fen), ledger.Leg(pay_in, -fen)]
        entries.append(dict(idempotency_key=TOPUP_KEY_PREFIX + tid, reason=memberships.TOPUP_REASON,
                            request_hash=ledger.request_hash(memberships.TOPUP_REASON, legs, "order", str(order_id)),
                            reference_type="order", reference_id=str(order_id), initiated_by_user_id=user_id,
                            created_at=at))
    transaction_row_ids = _insert_returning_ids(session, LedgerTransaction, entries)
    for start in range(0, len(paid), CHUNK // 2):
        session.execute(insert(Posting).values([
            leg for (_, _, account, _, fen), txn in zip(paid[start:start + CHUNK // 2],
                                                         transaction_row_ids[start:start + CHUNK // 2])
            for leg in ({"transaction_id": txn, "account_id": account, "amount_fen": fen},
                        {"transaction_id": txn, "account_id": pay_in, "amount_fen": -fen})]))
    for start in range(0, len(paid), CHUNK):
        accounts = [account for _, _, account, _, _ in paid[start:start + CHUNK]]
        session.execute(text(
            "UPDATE accounts SET balance_fen = (SELECT COALESCE(SUM(p.amount_fen), 0) FROM postings p "
            "WHERE p.account_id = accounts.id) WHERE accounts.id BETWEEN :low AND :high AND accounts.kind = 'member'"),
            {"low": min(accounts), "high": max(accounts)})
    session.execute(update(Account).where(Account.id == pay_in)
                    .values(balance_fen=Account.balance_fen - sum(fen for *_, fen in paid))
                    .execution_options(synchronize_session=False))


def _member(session: Session, pii: PiiProtector, pay: PastWeChat, policy: consents.PrivacyPolicy, *, user_id: int,
            code: str, name: str, index: int, relation: str, joined: dt.datetime, topup_fen: int | None,
            group_index: int = 0) -> int:
    """One membership through the real join and the notification's credit path."""
    _, version = get_plan(session, code)
    rules = version.rules
    group = rules["eligibility"][group_index]
    sex = group.get("sex") or ("M" if index % 2 else "F")
    birth = _birth(random.Random(index), group, china_date(joined))
    membership = memberships.join(session, pii, user_id=user_id, now=joined, request=JoinRequest(
        code, name, _id_number(index, birth, sex), relation, _answers(rules, group),
        consent=consents.for_join(policy)), policy=policy)
    if topup_fen:
        paid_topup(session, pay, membership_id=membership.id, payer_user_id=user_id, amount_fen=topup_fen,
                   at=joined + dt.timedelta(minutes=5))
    return membership.id


def _user(session: Session, openid: str, at: dt.datetime) -> int:
    with atomic(session):
        user = User(openid=openid, invite_code=new_invite_code(), created_at=at, last_login_at=at)
        session.add(user)
    return user.id


def seed_platform(session: Session, pii: PiiProtector, policy: consents.PrivacyPolicy, *, members: int,
                  now: dt.datetime, appid: str, mchid: str,
                  documents_dir: str, templates: dict, publicity_days: int = 5, grace_days: int = 30,
                  chunk_size: int = apportionment.DEFAULT_CHUNK_SIZE, seed: int = 16) -> SeedReport:
    if session.execute(select(User.id).where(User.openid == FAMILY_OPENID)).first():
        raise Conflict("演示数据已经生成过了（用户 demo-family 已存在）", code="demo_already_seeded")
    rng = random.Random(seed)
    when, pay, report = _Timeline(now), PastWeChat(appid, mchid), SeedReport()
    codes = list(session.execute(select(Plan.code).order_by(Plan.code)).scalars())
    versions = {code: get_plan(session, code)[1] for code in codes}
    with atomic(session):
        ledger.ensure_system_accounts(session, when.days_ago(400))
        bulk = _bulk_members(session, pii, versions, members, when, rng)
    staff = demo_staff(session, when.days_ago(400))

    # The family: the payer and four people across five plans (their ID indexes follow the bulk's).
    family = _user(session, FAMILY_OPENID, when.days_ago(320))
    base = members + 10
    mine = {
        "self": _member(session, pii, pay, policy, user_id=family, code="adult_789", name="王建国", index=base + 1,
                        relation="self", joined=when.days_ago(300), topup_fen=1_500),
        "spouse": _member(session, pii, pay, policy, user_id=family, code="adult_789", name="李秀英", index=base + 2,
                          relation="spouse", joined=when.days_ago(300), topup_fen=3_000),
        "child": _member(session, pii, pay, policy, user_id=family, code="children", name="王子涵", index=base + 3,
                         relation="child", joined=when.days_ago(290), topup_fen=2_000),
        "parent": _member(session, pii, pay, policy, user_id=family, code="seniors", name="王桂兰", index=base + 4,
                          relation="parent", joined=when.days_ago(280), topup_fen=700),
        "second_child": _member(session, pii, pay, policy, user_id=family, code="left_behind_children", name="王一诺",
                                index=base + 5, relation="child", joined=when.days_ago(20), topup_fen=500),
        "transit": _member(session, pii, pay, policy, user_id=family, code="transit_accident", name="李秀英",
                           index=base + 2, relation="spouse", joined=when.days_ago(200), topup_fen=800),
        "new": _member(session, pii, pay, policy, user_id=family, code="transit_accident", name="王建国", index=base + 1,
                       relation="self", joined=when.days_ago(1), topup_fen=None),
    }
    sponsor = _user(session, "demo-sponsor", when.days_ago(200))
    paid_topup(session, pay, membership_id=mine["child"], payer_user_id=sponsor, amount_fen=1_000,
               at=when.days_ago(100))

    # Claimants of the cases the two runs collect: two per plan in the first run, one in the second.
    claimants = {("adult_789", 0): (family, mine["self"])}  # the family's own case is one of them
    for number, code in enumerate(codes):
        for case in range(3):
            if (code, case) in claimants:
                continue
            user_id = _user(session, f"demo-claimant-{code}-{case}", when.days_ago(330))
            claimants[(code, case)] = (user_id, _member(
                session, pii, pay, policy, user_id=user_id, code=code, name=_name(rng), index=base + 100 + number * 3 + case,
                relation="self", joined=when.days_ago(320), topup_fen=1_000))

    publicity_claimant = _user(session, "demo-claimant-publicity", when.days_ago(330))
    publicity_membership = _member(session, pii, pay, policy, user_id=publicity_claimant, code="adult_789", name="赵海燕",
                                   index=base + 90, relation="self", joined=when.days_ago(320), topup_fen=2_000)

    for cut_off, cases in ((when.first_cut_off, (0, 1)), (when.second_cut_off, (2,))):
        incident = cut_off - dt.timedelta(days=20)
        memberships.advance(session, incident - dt.timedelta(hours=1))
        for code in codes:
            for case in cases:
                user_id, membership_id = claimants[(code, case)]
                report_case(session, staff, user_id=user_id, membership_id=membership_id, rules=versions[code].rules,
                            incident=incident, documents_dir=documents_dir, policy=policy,
                            approved_aid_fen=_approved_aid(versions[code].rules),
                            publicity_days=publicity_days)
        claims.promote_finished_publicity(session, cut_off - dt.timedelta(days=1))
        for code in codes:
            run = apportionment.prepare(session, code, cut_off, cut_off=cut_off, chunk_size=chunk_size)
            apportionment.publish(session, run.id, cut_off)
            apportionment.execute(session, run.id, cut_off + dt.timedelta(days=1), grace_days=grace_days)
            report.runs.append(run.id)
        if cases == (0, 1):
            # Its first cases are paid: their memberships end aided, and what they hold is refunded.
            for code in codes:
                _pay_case(session, pay, staff, claimants[(code, 0)][1], cut_off + dt.timedelta(days=3))
            # Between the runs a few members leave (refunded to their payments).
            for user_id, membership_id in bulk[: max(1, min(members // 500, 10))]:
                refunds.leave(session, pay, user_id=user_id, membership_id=membership_id, now=when.days_ago(15))
            refunds.leave(session, pay, user_id=family, membership_id=mine["transit"], now=when.days_ago(15))

    # Today: suspensions of the first run lapsed, the recent joiners protected; cases in flight.
    memberships.advance(session, when.days_ago(0.5))
    report_case(session, staff, user_id=family, membership_id=mine["child"], rules=versions["children"].rules,
                incident=when.days_ago(6), documents_dir=documents_dir, policy=policy, approved_aid_fen=None,
                publicity_days=publicity_days, diagnosis="急性淋巴细胞白血病")
    in_publicity = report_case(session, staff, user_id=publicity_claimant, membership_id=publicity_membership,
                               rules=versions["adult_789"].rules, incident=when.days_ago(8),
                               documents_dir=documents_dir, policy=policy,
                               approved_aid_fen=_approved_aid(versions["adult_789"].rules), publicity_days=publicity_days)
    claims.object_to(session, user_id=family, claim_id=in_publicity, now=when.days_ago(1),
                     reason="诊断日期与住院记录似乎对不上，请核实")
    # A case with the investigating organisation (the investigator's queue).
    investigated_claimant = _user(session, "demo-claimant-investigation", when.days_ago(330))
    investigated_membership = _member(session, pii, pay, policy, user_id=investigated_claimant, code="adult_789",
                                      name="孙志强", index=base + 91, relation="self", joined=when.days_ago(320),
                                      topup_fen=1_000)
    memberships.advance(session, when.days_ago(0.5))  # its observation is long over (idempotent for the rest)
    investigated = report_case(session, staff, user_id=investigated_claimant, membership_id=investigated_membership,
                               rules=versions["adult_789"].rules,
                               incident=when.days_ago(7), documents_dir=documents_dir, policy=policy,
                               approved_aid_fen=None, publicity_days=publicity_days, diagnosis="急性心肌梗死")
    claims.assign(session, staff.reviewer, investigated, staff.investigator.organisation_id, when.days_ago(4))

    # Nobody had consented during the history, so delivering it ends every row skipped_no_quota;
    # the family consents now, so their next events reach them.
    _skip_history_without_consent(session, now)
    subscriptions.consent(session, templates, user_id=family, accepted=list(templates)[:5], now=now)
    subscriptions.consent(session, templates, user_id=family, accepted=list(templates)[5:10], now=now)

    # The day the first cases were paid, reconciled with that day's bills (one line only WeChat knows
    # of: a mismatch for finance to resolve in the console).
    from . import bills
    from .demo_bills import PastBills

    bills.reconcile_day(session, PastBills(session, mchid, extra_payments=(("DEMOWXONLY0001", 300),)),
                        china_date(when.first_cut_off + dt.timedelta(days=3)), now)

    with reading(session):
        report.members = session.execute(text("SELECT COUNT(*) FROM memberships")).scalar_one()
        report.users = session.execute(text("SELECT COUNT(*) FROM users")).scalar_one()
        report.family_user_id = family
        report.states = dict(session.execute(text("SELECT state, COUNT(*) FROM memberships GROUP BY state")).all())
        report.claims = dict(session.execute(text("SELECT status, COUNT(*) FROM claims GROUP BY status")).all())
    return report


def _pay_case(session: Session, pay: PastWeChat, staff, membership_id: int, at: dt.datetime) -> None:
    with reading(session):
        claim_id = session.execute(text("SELECT id FROM claims WHERE membership_id = :m AND status = 'collected'"),
                                   {"m": membership_id}).scalar_one()
    transfer = payouts.approve(session, staff.finance, claim_id, at)
    payouts.send(session, pay, transfer.id, at)
    refunds.submit_refunds(session, pay, at, membership_id=membership_id)


def _skip_history_without_consent(session: Session, now: dt.datetime) -> int:
    """What deliver_chunk decides for a row whose user holds no quota for its template (skipped, no
    send), set-based over the whole history: tens of thousands of rows in one statement."""
    with atomic(session):
        return session.execute(text(
            "UPDATE notifications SET status = 'skipped_no_quota', attempts = attempts + 1, finished_at = :now, "
            "last_error = 'no subscribe quota' WHERE status = 'pending' AND NOT EXISTS (SELECT 1 FROM "
            "subscribe_quotas q WHERE q.user_id = notifications.user_id AND q.template_key = notifications.template_key "
            "AND q.remaining > 0)"), {"now": now}).rowcount
