"""In-memory fakes of the services' ports (app/services/ports.py), for fast service-level tests: no
HTTP, no emulator, no Flask app. They keep WeChat's state the way WeChat does (orders, refunds and
transfers by our out_* numbers, idempotent on them) and fail on request:

    pay = FakePay(session)                      # `session`: refuse any call made inside a DB transaction
    pay.fail_next("refund", PayOutcomeUnknown("read timed out"))
    pay.fail_next("create_jsapi_order", PayRejected(400, "PARAM_ERROR", "..."))

The end-to-end behaviour of the real adapters is tested against the emulator (tests/wechat/)."""
from __future__ import annotations

import datetime as dt
import itertools
import json
import secrets
from dataclasses import dataclass, field
from typing import Mapping

import pytest
from sqlalchemy.orm import Session

from app.services.ports import InvalidNotification, PayRejected

APPID = "wx-fake-appid"
MCHID = "1900000000"
FAKE_SIGNATURE = "fake-signature"  # what FakePay.notification signs with; anything else is refused


@dataclass(frozen=True)
class FakeNotification:
    id: str
    event_type: str
    resource: dict


@dataclass
class FakePay:
    """WeChat Pay as the services see it (PayGateway and TransferGateway of app.services.ports)."""

    watched: Session | None = None  # when given, a call while it holds a transaction is an error
    mchid: str = MCHID
    appid: str = APPID
    refunds_settle_at_once: bool = False  # True: refund() answers SUCCESS (else PROCESSING)
    orders: dict[str, dict] = field(default_factory=dict)
    refunds: dict[str, dict] = field(default_factory=dict)
    transfers: dict[str, dict] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, our out_* number)
    calls_inside_a_transaction: list[str] = field(default_factory=list)
    _faults: dict[str, list[Exception]] = field(default_factory=dict)
    _serial: itertools.count = field(default_factory=lambda: itertools.count(1))

    # --- faults ---------------------------------------------------------------------------------

    def fail_next(self, method: str, error: Exception, times: int = 1) -> None:
        """The next `times` calls of `method` raise `error` (before WeChat's state changes, as a refusal
        does; use `lose_answer_of` for a call that took effect but whose answer was lost)."""
        self._faults.setdefault(method, []).extend([error] * times)

    def _enter(self, method: str, key: str) -> None:
        self.calls.append((method, key))
        if self.watched is not None and _in_transaction(self.watched):
            self.calls_inside_a_transaction.append(method)
        faults = self._faults.get(method)
        if faults:
            raise faults.pop(0)

    def _number(self, prefix: str) -> str:
        return f"{prefix}{next(self._serial):010d}"

    # --- payments -------------------------------------------------------------------------------

    def create_jsapi_order(self, out_trade_no: str, description: str, amount_fen: int, openid: str) -> str:
        self._enter("create_jsapi_order", out_trade_no)
        order = self.orders.get(out_trade_no)
        if order is None:
            order = self.orders[out_trade_no] = {"amount_fen": amount_fen, "openid": openid, "state": "NOTPAY",
                                                 "prepay_id": "wx" + secrets.token_hex(8), "transaction_id": None}
        elif (order["amount_fen"], order["openid"]) != (amount_fen, openid):
            raise PayRejected(400, "INVALID_REQUEST", "same out_trade_no, different content")
        return order["prepay_id"]

    def request_payment_params(self, prepay_id: str) -> dict:
        return {"timeStamp": "0", "nonceStr": "fake", "package": f"prepay_id={prepay_id}", "signType": "RSA",
                "paySign": "fake"}

    def payer_pays(self, out_trade_no: str) -> dict:
        """The member pays in the mini-program: WeChat's transaction (as a notification carries it)."""
        order = self.orders[out_trade_no]
        order["state"], order["transaction_id"] = "SUCCESS", order["transaction_id"] or self._number("4200")
        return self.transaction(out_trade_no)

    def transaction(self, out_trade_no: str) -> dict:
        order = self.orders[out_trade_no]
        answer = {"appid": self.appid, "mchid": self.mchid, "out_trade_no": out_trade_no,
                  "trade_state": order["state"], "amount": {"total": order["amount_fen"], "currency": "CNY"},
                  "payer": {"openid": order["openid"]}}
        if order["transaction_id"]:
            answer["transaction_id"] = order["transaction_id"]
        return answer

    def query_order(self, out_trade_no: str) -> dict:
        self._enter("query_order", out_trade_no)
        if out_trade_no not in self.orders:
            raise PayRejected(404, "ORDER_NOT_EXIST", "订单不存在")
        return self.transaction(out_trade_no)

    def close_order(self, out_trade_no: str) -> None:
        self._enter("close_order", out_trade_no)
        order = self.orders.get(out_trade_no)
        if order is None:
            raise PayRejected(404, "ORDER_NOT_EXIST", "订单不存在")
        if order["state"] == "SUCCESS":
            raise PayRejected(400, "ORDER_PAID", "订单已支付")
        order["state"] = "CLOSED"

    # --- refunds --------------------------------------------------------------------------------

    def refund(self, out_refund_no: str, *, out_trade_no: str | None = None, transaction_id: str | None = None,
               refund_fen: int, total_fen: int, reason: str | None = None) -> dict:
        self._enter("refund", out_refund_no)
        if out_refund_no not in self.refunds:
            order = self.orders.get(out_trade_no)
            if order is None or order["state"] != "SUCCESS":
                raise PayRejected(404, "RESOURCE_NOT_EXISTS", "订单不存在或未支付")
            if total_fen != order["amount_fen"]:
                raise PayRejected(400, "PARAM_ERROR", "订单金额不符")
            self.refunds[out_refund_no] = {"out_trade_no": out_trade_no, "refund_fen": refund_fen,
                                           "total_fen": total_fen, "refund_id": self._number("5030"),
                                           "status": "SUCCESS" if self.refunds_settle_at_once else "PROCESSING"}
        return self.refund_answer(out_refund_no)

    def refund_answer(self, out_refund_no: str) -> dict:
        refund = self.refunds[out_refund_no]
        return {"out_refund_no": out_refund_no, "refund_id": refund["refund_id"], "status": refund["status"],
                "out_trade_no": refund["out_trade_no"],
                "amount": {"refund": refund["refund_fen"], "total": refund["total_fen"], "currency": "CNY"}}

    def query_refund(self, out_refund_no: str) -> dict:
        self._enter("query_refund", out_refund_no)
        if out_refund_no not in self.refunds:
            raise PayRejected(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return self.refund_answer(out_refund_no)

    def finish_refund(self, out_refund_no: str, status: str = "SUCCESS") -> dict:
        """WeChat finishes a refund (SUCCESS, CLOSED or ABNORMAL): the REFUND.* notification's resource."""
        refund = self.refunds[out_refund_no]
        refund["status"] = status
        return {"mchid": self.mchid, "out_trade_no": refund["out_trade_no"], "out_refund_no": out_refund_no,
                "refund_id": refund["refund_id"], "refund_status": status,
                "amount": {"refund": refund["refund_fen"], "total": refund["total_fen"]}}

    # --- merchant transfers ---------------------------------------------------------------------

    def transfer(self, out_bill_no: str, openid: str, amount_fen: int, remark: str) -> dict:
        self._enter("transfer", out_bill_no)
        bill = self.transfers.setdefault(out_bill_no, {"openid": openid, "amount_fen": amount_fen,
                                                       "state": "WAIT_USER_CONFIRM",
                                                       "transfer_bill_no": self._number("1330")})
        return {"out_bill_no": out_bill_no, "transfer_bill_no": bill["transfer_bill_no"], "state": bill["state"],
                "package_info": f"package-of-{out_bill_no}"}

    def query_transfer(self, out_bill_no: str) -> dict:
        self._enter("query_transfer", out_bill_no)
        bill = self.transfers.get(out_bill_no)
        if bill is None:
            raise PayRejected(404, "NOT_FOUND", "转账单不存在")
        return {"out_bill_no": out_bill_no, "transfer_bill_no": bill["transfer_bill_no"], "state": bill["state"],
                "transfer_amount": bill["amount_fen"], "openid": bill["openid"]}

    # --- notifications --------------------------------------------------------------------------

    def notification(self, event_type: str, resource: dict, *, signature: str = FAKE_SIGNATURE
                     ) -> tuple[dict[str, str], bytes]:
        """(headers, body) of a notification WeChat would send; `signature` other than FAKE_SIGNATURE
        stands for one that does not verify."""
        body = json.dumps({"id": self._number("EV"), "event_type": event_type, "resource": resource}).encode()
        return {"Wechatpay-Signature": signature}, body

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> FakeNotification:
        if headers.get("Wechatpay-Signature") != FAKE_SIGNATURE:
            raise InvalidNotification("bad signature")
        envelope = json.loads(body)
        return FakeNotification(envelope["id"], envelope["event_type"], envelope["resource"])


def _in_transaction(session: Session) -> bool:
    real = session() if callable(session) and not isinstance(session, Session) else session
    return real.in_transaction()


@dataclass
class FakeMiniProgram:
    """The mini-program server API (LoginGateway, SubscribeMessageSender): codes minted by the test."""

    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)  # code → (openid, session_key)
    sent: list[tuple[str, str, dict]] = field(default_factory=list)

    def mint_code(self, openid: str) -> str:
        code = secrets.token_hex(8)
        self.sessions[code] = (openid, secrets.token_hex(8))
        return code

    def code_to_session(self, code: str):
        from app.services.ports import WeChatRejected

        if code not in self.sessions:
            raise WeChatRejected(40029, "invalid code")
        openid, session_key = self.sessions.pop(code)  # a code is good once
        return _WeChatSession(openid, None, session_key)

    def send_subscribe_message(self, openid: str, template_id: str, data: dict[str, str],
                               page: str | None = None) -> None:
        self.sent.append((openid, template_id, dict(data)))


@dataclass(frozen=True)
class _WeChatSession:
    openid: str
    unionid: str | None
    session_key: str


# --- a world of services over fakes: SQLite, a frozen clock, FakePay, FakeMiniProgram ------------

START = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.timezone.utc)
_people = itertools.count(1)


def synthetic_id_number(birth: dt.date, sex: str) -> str:
    """A checksum-valid ID number with a real region code, for nobody real."""
    from app.services.idcard import SYNTHETIC_REGION_CODES, check_character

    n = next(_people)
    serial = (n * 2 + (1 if sex == "M" else 0)) % 1000  # odd for men, even for women (digit 17)
    body = f"{SYNTHETIC_REGION_CODES[n % len(SYNTHETIC_REGION_CODES)]}{birth:%Y%m%d}{serial:03d}"
    return body + check_character(body)


@dataclass
class World:
    """The services wired to fakes over one SQLAlchemy session (no Flask app)."""

    session: Session
    clock: object
    pii: object
    policy: object
    pay: FakePay
    mini_program: FakeMiniProgram
    config: dict

    def now(self) -> dt.datetime:
        return self.clock.now()

    def user(self, openid: str | None = None) -> int:
        from app.services import users

        openid = openid or f"o-fake-{next(_people)}"
        code = self.mini_program.mint_code(openid)
        return users.login(self.session, self.pii, self.mini_program, code=code, now=self.now()).user.id

    def join(self, user_id: int, *, age: int = 30, sex: str = "M", plan: str = "adult_789") -> int:
        from app.services import consents, memberships
        from app.services.clock import china_date

        today = china_date(self.now())
        birth = today.replace(year=today.year - age, day=min(today.day, 28))
        request = memberships.JoinRequest(plan_code=plan, person_name="张三丰", id_number=synthetic_id_number(birth, sex),
                                          relation="self", answers=self.no_answers(plan),
                                          consent=consents.for_join(self.policy))
        return memberships.join(self.session, self.pii, user_id=user_id, request=request, now=self.now(),
                                policy=self.policy).id

    def no_answers(self, plan: str) -> dict[str, bool]:
        from app.services.plans import get_plan

        _, version = get_plan(self.session, plan)
        self.session.rollback()
        return {q["key"]: False for q in version.rules["health_questions"]}

    def top_up(self, user_id: int, membership_id: int, amount_fen: int) -> str:
        """Start a top-up, the payer pays, WeChat notifies: returns the out_trade_no."""
        from app.services import payments

        started = self.start_topup(user_id, membership_id, amount_fen)
        out_trade_no = started.order.out_trade_no
        self.notify("TRANSACTION.SUCCESS", self.pay.payer_pays(out_trade_no))
        return out_trade_no

    def start_topup(self, user_id: int, membership_id: int, amount_fen: int):
        from app.services import payments

        target = payments.own_target(self.session, user_id, membership_id)
        self.session.rollback()
        return payments.start_topup(self.session, self.pay, target=target, payer_user_id=user_id,
                                    amount_fen=amount_fen, max_fen=self.config["TOPUP_MAX_FEN"], now=self.now())

    def notify(self, event_type: str, resource: dict, **kwargs):
        from app.services import payments

        headers, body = self.pay.notification(event_type, resource, **kwargs)
        return payments.handle_notification(self.session, self.pay, headers, body, self.now())

    def balance(self, membership_id: int) -> int:
        from app.services.ledger import member_account_code

        return self.account_balance(member_account_code(membership_id))

    def account_balance(self, code: str) -> int:
        from sqlalchemy import select

        from app.models import Account

        value = self.session.execute(select(Account.balance_fen).where(Account.code == code)).scalar_one()
        self.session.rollback()
        return value


def make_world(database_url: str, tmp_path) -> World:
    """A clean database (already migrated) with the plan catalogue, and services wired to fakes."""
    import sqlalchemy as sa

    from app.services.clock import FrozenClock
    from app.services.consents import load_policy
    from app.services.pii import PiiProtector
    from app.services.plans import load_catalogue
    from config import TestingConfig, pii_keyrings
    from tests.support import clean_database

    config = TestingConfig().as_dict()
    engine = sa.create_engine(database_url)
    clean_database(engine)
    session = Session(engine)
    clock = FrozenClock(START)
    load_catalogue(session, config["PLANS_FILE"], clock.now())
    return World(session=session, clock=clock, pii=PiiProtector(*pii_keyrings(config)),
                 policy=load_policy(config["PRIVACY_POLICY_FILE"]), pay=FakePay(watched=session),
                 mini_program=FakeMiniProgram(), config={**config, "CLAIM_DOCUMENTS_DIR": str(tmp_path / "documents")})


@pytest.fixture
def world(sqlite_url, tmp_path):
    """Import into a test module (`from tests.fakes import world`) to use it as a fixture."""
    built = make_world(sqlite_url, tmp_path)
    yield built
    built.session.close()
    built.session.get_bind().dispose()
