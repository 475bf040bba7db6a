"""Composition of the emulator: one Flask app serving both api.weixin.qq.com
(mini-program APIs) and api.mch.weixin.qq.com (WeChat Pay v3), and a real
threaded HTTP server around it for tests and local development."""

from __future__ import annotations

import importlib
import importlib.util
import threading
import time

from flask import Blueprint, Flask, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from wechat.emulator import mp
from wechat.emulator.state import STATE_EXTENSION, EmulatorConfig, EmulatorState, Fault, current_state
from wechat.keys import generate_dev_keys, load_keys

CONTROL_PREFIX = "_emulator/"
PAY_MODULE = "wechat.emulator.pay"

control_bp = Blueprint("wechat_emulator_control", __name__, url_prefix="/_emulator")


def _pay_module():
    """The WeChat Pay part, when it is present; a broken one still fails loudly."""
    if importlib.util.find_spec(PAY_MODULE) is None:
        return None
    return importlib.import_module(PAY_MODULE)


def create_emulator_app(config: EmulatorConfig, state: EmulatorState | None = None) -> Flask:
    app = Flask("wechat_emulator")
    state = state or EmulatorState(config)
    app.extensions[STATE_EXTENSION] = state
    app.register_blueprint(control_bp)
    app.register_blueprint(mp.bp)
    pay = _pay_module()
    if pay is not None:
        state.pay = pay.PayState(config, state)
        app.register_blueprint(pay.bp)
        from wechat.emulator import bills  # built from the pay records

        app.register_blueprint(bills.bp)
        app.register_blueprint(bills.control_bp)
    app.before_request(_inject_fault)
    app.register_error_handler(HTTPException, _http_error_as_json)
    return app


def _http_error_as_json(error: HTTPException):
    return jsonify(errcode=error.code, errmsg=error.description), error.code


def _inject_fault():
    path = request.path.lstrip("/")
    if path.startswith(CONTROL_PREFIX):
        return None
    fault = current_state().take_fault(path)
    if fault is None:
        return None
    if fault.delay_seconds:
        time.sleep(fault.delay_seconds)  # real time: this is how tests provoke client timeouts
    if fault.code is not None:  # WeChat Pay v3's error shape (the pay blueprint still signs the answer)
        return jsonify(code=fault.code, message="injected fault"), fault.status or 500
    if fault.status:
        return jsonify(errcode=-1, errmsg="injected HTTP failure"), fault.status
    if fault.errcode is not None:
        return mp.wechat_error(fault.errcode, "injected fault")
    return None


@control_bp.post("/clock")
def advance_clock():
    seconds = float((request.get_json(silent=True) or {}).get("advance_seconds", 0))
    return jsonify(now=current_state().advance_clock(seconds))


@control_bp.post("/faults")
def add_fault():
    body = request.get_json(silent=True) or {}
    if not body.get("path"):
        return jsonify(errcode=400, errmsg="path required"), 400
    fault = Fault(
        path=body["path"].lstrip("/"),
        times=int(body.get("times", 1)),
        errcode=body.get("errcode"),
        status=body.get("status"),
        code=body.get("code"),
        delay_seconds=float(body.get("delay_seconds", 0)),
    )
    current_state().add_fault(fault)
    return jsonify(vars(fault))


class EmulatorServer:
    """The emulator on a real socket (port 0 = any free port), served from a daemon thread."""

    def __init__(self, config: EmulatorConfig, host: str = "127.0.0.1", port: int = 0):
        self.config = config
        self.host = host
        self.port = port
        self.app = create_emulator_app(config)
        self.state: EmulatorState = self.app.extensions[STATE_EXTENSION]
        self._server = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_keys_dir(cls, keys_dir, host: str = "127.0.0.1", port: int = 0, **config_overrides):
        """An emulator using the dev keys in `keys_dir` (generated there if missing)."""
        generate_dev_keys(keys_dir)
        return cls(EmulatorConfig.from_keys(load_keys(keys_dir), **config_overrides), host, port)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("emulator server not started")
        return f"http://{self.host}:{self._server.server_port}/"

    def start(self) -> "EmulatorServer":
        self._server = make_server(self.host, self.port, self.app, threaded=True)
        self._thread = threading.Thread(
            # A short poll interval keeps stop() (and so each test's teardown) fast.
            target=self._server.serve_forever, args=(0.05,), name="wechat-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        close_pay = getattr(self.state.pay, "close", None)  # e.g. stops notification retries
        if close_pay is not None:
            close_pay()
        self._server = None

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
