"""The adapters (wechat/) and the fakes (tests/fakes.py) offer what the ports (app/services/ports.py)
ask for: every method of each Protocol, with its parameters by name (keyword calls keep working), so
neither the adapters nor the fakes can drift from what the services call."""
from __future__ import annotations

import inspect

import pytest

from app.services import ports
from tests.fakes import FakeMiniProgram, FakePay
from wechat.mp import MiniProgramClient
from wechat.pay import PayClient

IMPLEMENTATIONS = [
    (ports.PayGateway, PayClient), (ports.PayGateway, FakePay),
    (ports.TransferGateway, PayClient), (ports.TransferGateway, FakePay),
    (ports.BillSource, PayClient),
    (ports.LoginGateway, MiniProgramClient), (ports.LoginGateway, FakeMiniProgram),
    (ports.SubscribeMessageSender, MiniProgramClient), (ports.SubscribeMessageSender, FakeMiniProgram),
    (ports.CodeGateway, MiniProgramClient),
    (ports.OpenDataDecryptor, MiniProgramClient),
]


def _methods(cls) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")}


def _parameters(signature: inspect.Signature) -> list[tuple[str, str, bool]]:
    return [(p.name, p.kind.name, p.default is not inspect.Parameter.empty)
            for p in signature.parameters.values() if p.name != "self"]


@pytest.mark.parametrize("port, implementation", IMPLEMENTATIONS,
                         ids=[f"{impl.__name__}-{port.__name__}" for port, impl in IMPLEMENTATIONS])
def test_the_implementation_offers_every_method_of_the_port(port, implementation):
    offered = {name: getattr(implementation, name, None) for name in _methods(port)}
    assert [name for name, method in offered.items() if not callable(method)] == []
    for name, wanted in _methods(port).items():
        given = _parameters(inspect.signature(offered[name]))
        for parameter, kind, has_default in _parameters(wanted):
            match = next((g for g in given if g[0] == parameter), None)
            assert match is not None, f"{implementation.__name__}.{name} lacks {parameter}"
            assert match[1] == kind or kind == "POSITIONAL_OR_KEYWORD", f"{implementation.__name__}.{name}({parameter})"
        extra_required = [g[0] for g in given if not g[2] and g[0] not in {p[0] for p in _parameters(wanted)}
                          and g[1] not in ("VAR_POSITIONAL", "VAR_KEYWORD")]
        assert extra_required == [], f"{implementation.__name__}.{name} needs more than the port gives"


def test_pay_attributes_the_services_read_are_there():
    assert {"mchid", "appid"} <= set(ports.PayGateway.__annotations__)
    assert FakePay().mchid and FakePay().appid


@pytest.mark.parametrize("failure, family", [
    (ports.PayRejected(400, "PARAM_ERROR", "x"), ports.PayFailure),
    (ports.PayOutcomeUnknown("timeout"), ports.PayFailure),
    (ports.WeChatRejected(40029, "invalid code"), ports.WeChatCallFailed),
    (ports.WeChatUnavailable("HTTP 502"), ports.WeChatCallFailed),
])
def test_each_failure_belongs_to_its_family(failure, family):
    assert isinstance(failure, family)
    assert not isinstance(failure, (ports.InvalidNotification, ports.OpenDataInvalid, ports.BillHashMismatch))
