"""Every error an operation can answer, documented in the OpenAPI document with its codes.

Routes name their business error codes with `@errors("code", ...)`; the status of each code is not
written twice: it is read from the services themselves (each `raise NotFound(..., code="x")` gives
"x" the status of its kind). The apispec plugin below then adds what every route shares (the input
guard, authentication, validation, rate limits), writes one response per status whose schema is the
error envelope with `error.code` restricted to the listed codes, and lists them in the description
and in `x-error-codes`. flask-smorest's catch-all `default` response is removed: a status an
operation does not document is a bug the schemathesis test reports."""
from __future__ import annotations

import ast
import functools
import inspect
from collections import defaultdict
from pathlib import Path

from apispec import BasePlugin
from flask_smorest import Blueprint
from werkzeug.http import HTTP_STATUS_CODES

from app.services import errors as service_errors

from .errors import STATUS_BY_KIND

ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"
CODES_KEY = "x-error-codes"

# What the input guard, the error handlers and the authentication answer (app/api/input_guard.py,
# errors.py, security.py, app/services/tokens.py).
TEXT_CODES = ["invalid_characters"]
JSON_BODY_CODES = ["malformed_json", "json_too_deep", "json_number_too_long"]
TOKEN_CODES = ["token_missing", "token_invalid", "token_expired"]
EXTRA_CODE_STATUSES = {
    "invalid_characters": {400}, "malformed_json": {400}, "json_too_deep": {400}, "json_number_too_long": {400},
    "uri_too_long": {414}, "body_too_large": {413}, "validation_error": {422}, "not_found": {404},
    "too_many_requests": {429}, "token_missing": {401}, "method_not_allowed": {405},
    "not_ready": {503},  # app/api/health.py: the readiness probe names what is down
    # app/services/consents.py raises these by scope (consents.REQUIRED_CODES), not as literals.
    "privacy_policy_consent_required": {403}, "sensitive_data_consent_required": {403},
    "medical_documents_consent_required": {403},
}


def errors(*codes: str):
    """Document the business error codes a route can answer (their statuses come from the services)."""
    return Blueprint.doc(**{CODES_KEY: {"business": list(codes)}})


@functools.lru_cache(maxsize=None)
def code_statuses() -> dict[str, frozenset[int]]:
    """code → the statuses it is raised with, read from every `raise SomeServiceError(code=...)`."""
    found: dict[str, set[int]] = defaultdict(set)
    for name, value in EXTRA_CODE_STATUSES.items():
        found[name] |= value
    classes = {name: cls for name, cls in inspect.getmembers(service_errors, inspect.isclass)
               if issubclass(cls, service_errors.ServiceError)}
    for cls in classes.values():  # class defaults, e.g. NotFound() → not_found
        found[cls.code].add(STATUS_BY_KIND.get(cls.kind, 400))
    root = Path(__file__).resolve().parent.parent
    for source in sorted((root / "services").rglob("*.py")) + sorted((root / "api").rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in classes):
                continue
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                    found[keyword.value.value].add(STATUS_BY_KIND.get(classes[node.func.id].kind, 400))
    return {code: frozenset(statuses) for code, statuses in found.items()}


def _codes_for(path: str, operation: dict) -> dict[int, set[str]]:
    by_status: dict[int, set[str]] = defaultdict(set)
    statuses = code_statuses()
    for code in operation.get(CODES_KEY, {}).get("business", []):
        if code not in statuses:
            raise LookupError(f"{path}: error code {code!r} is raised nowhere in app/services or app/api")
        for status in statuses[code]:
            by_status[status].add(code)
    by_status[400].update(TEXT_CODES)  # any path or query string may carry refused characters
    by_status[414].add("uri_too_long")
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        by_status[400].update(JSON_BODY_CODES)
    if body:
        by_status[413].add("body_too_large")
        by_status[422].add("validation_error")
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        by_status[422].add("validation_error")
    if "{" in path:
        by_status[404].add("not_found")  # an id no row can have (beyond BIGINT) is a plain 404
    if operation.get("security"):
        by_status[401].update(TOKEN_CODES)
    if "429" in {str(status) for status in operation.get("responses", {})}:
        by_status[429].add("too_many_requests")
    return by_status


def _error_response(description: str, codes: set[str]) -> dict:
    listed = sorted(codes)
    return {
        "description": f"{description} Error codes: " + ", ".join(f"`{c}`" for c in listed) + ".",
        CODES_KEY: listed,
        "content": {"application/json": {"schema": {"allOf": [
            {"$ref": ENVELOPE_REF},
            {"type": "object", "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string", "enum": listed}}}}},
        ]}}},
    }


class ErrorCodesPlugin(BasePlugin):
    """Runs after the marshmallow plugin (schemas are references by then)."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            # Status keys may still be ints here (flask-smorest), and a response may still be the
            # name of a component (e.g. "UNPROCESSABLE_ENTITY"): both are normalised.
            responses = {str(status): response for status, response in operation["responses"].items()}
            operation["responses"] = responses
            for status, codes in sorted(_codes_for(path, operation).items()):
                existing = responses.get(str(status))
                description = (existing.get("description") if isinstance(existing, dict) else None) \
                    or HTTP_STATUS_CODES.get(status, "Error")
                responses[str(status)] = _error_response(description.rstrip(".") + ".", codes)
            operation.pop(CODES_KEY, None)
            responses.pop("default", None)
