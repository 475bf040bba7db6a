"""schemathesis against our own OpenAPI document, on PostgreSQL.

Every operation gets a bounded number of generated requests (valid and invalid), sent with a
member token, or with an operator token holding every role for /admin routes. Checks: no 5xx; the
status is one the operation documents (there is no catch-all `default` response); the body matches
the documented schema, which for errors narrows `error.code` to the operation's listed codes.
With CI=true the examples are derandomized (tests/conftest.py loads Hypothesis' "ci" profile)."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from app.container import container_of
from app import create_app
from app.extensions import db
from app.services.plans import load_catalogue
from tests.support import PASSWORD, START, app_config, clean_database, join_and_fund, login, make_operator
from app.services.clock import FrozenClock
import config

EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "50"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_target(postgresql_url, keys_dir, emulator, tmp_path_factory):
    """One app and one seeded database for every operation (setting up per operation would cost more
    than the requests): a member with a funded membership, an operator holding every role."""
    application = create_app(app_config(postgresql_url, keys_dir, emulator.url))
    application.config["CLAIM_DOCUMENTS_DIR"] = str(tmp_path_factory.mktemp("fuzz-documents"))
    clock = FrozenClock(START)
    container_of(application).override(clock=clock)
    with application.app_context():
        clean_database(db.engine)
        load_catalogue(db.session, application.config["PLANS_FILE"], clock.now())
        client = application.test_client()
        member = login(client, emulator.url, "o-fuzz")
        join_and_fund(client, member, clock)  # something to find: membership 1, its account, a sponsor token
        make_operator("fuzz-all-roles", "reviewer", "investigator", "finance", "auditor", organisation="模糊测试公估",
                      now=clock.now())
        operator = client.post("/api/v1/admin/auth/login", json={"username": "fuzz-all-roles", "password": PASSWORD})
        assert operator.status_code == 200, operator.get_json()
        db.session.remove()
        tokens = {"member": member, "operator": {"Authorization": f"Bearer {operator.get_json()['token']}"}}
        yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application), tokens
        db.session.remove()
        db.engine.dispose()


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation; the document needs no database."""
    document = create_app(config.TestingConfig()).test_client().get("/api/v1/openapi.json").get_json()
    return [(method.upper(), path) for path, operations in document["paths"].items()
            for method in operations if method != "parameters"]


# schemathesis' own pytest plugin (schema.parametrize) does not run under pytest 9 yet: the
# operations are parametrized here and each one's strategy is driven by Hypothesis directly.
@pytest.mark.parametrize("method,path", _operations(), ids=lambda value: str(value))
def test_no_5xx_and_every_answer_documented(method, path, fuzz_target):
    api_schema, tokens = fuzz_target
    operation = api_schema.find_operation_by_path(method, path)
    headers = tokens["operator"] if path.startswith("/api/v1/admin/") else tokens["member"]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases)
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    def send(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    send()
