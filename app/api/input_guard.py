"""One input guard in front of every route, run before any view (and so before any query).

- Text PostgreSQL cannot store, or that is not Unicode at all, is refused wherever it comes in: the
  URL path, the query string, form fields and file names, and every key and string of a JSON body.
  NUL (PostgreSQL: "A string literal cannot contain NUL") and lone UTF-16 surrogates ("\\ud800", which
  no UTF-8 encoder accepts) would otherwise reach the database driver and fail there.
- JSON bodies are parsed once here with limits: nesting depth (Python's parser recurses and would
  raise RecursionError) and the length of number literals (int() refuses more than 4,300 digits).
- An over-long URL is answered 414 in our envelope (the WSGI server lets longer lines through, see
  MAX_URL_LENGTH in config).

Each refusal is a 400 in the one error envelope; the view never runs."""
from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, request

from app.services.errors import ServiceError

# A NUL, or a surrogate code point (only lone ones can appear in a decoded str).
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


class InputRefused(ServiceError):
    """Input the API never accepts; the message names what and where, never echoes the value."""

    kind = "invalid"


class UriTooLong(ServiceError):
    kind = "uri_too_long"


def has_forbidden_characters(text: str) -> bool:
    return _FORBIDDEN.search(text) is not None


def _refuse_characters(location: str, field: str | None = None):
    details = {"location": location}
    if field is not None:
        details["field"] = field
    return InputRefused("请求中含有不允许的字符", code="invalid_characters", details=details)


def _check_text(location: str, items) -> None:
    for key, value in items:
        key, value = key or "", value or ""  # a multipart part may come without a name
        if has_forbidden_characters(key) or has_forbidden_characters(value):
            raise _refuse_characters(location, None if has_forbidden_characters(key) else key)


def _json_depth_exceeds(text: str, max_depth: int) -> bool:
    """Scan brackets outside strings: linear, no recursion, so it works on any input."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif char in "]}":
            depth -= 1
    return False


class _NumberTooLong(ValueError):
    pass


def _bounded_number(max_digits: int, convert):
    def parse(literal: str):
        if len(literal) > max_digits:
            raise _NumberTooLong(literal[:20])
        return convert(literal)

    return parse


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python accepts them, JSON does not


def _walk_strings(value: Any, path: str = ""):
    """Yield (path, text) for every key and string in a parsed JSON document, iteratively."""
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield where, key
                stack.append((f"{where}.{key}" if where else key, child))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", child) for i, child in enumerate(item))


def parse_guarded_json(raw: bytes, *, max_depth: int, max_number_length: int) -> Any:
    """Parse a JSON body within the limits, or raise InputRefused (400)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputRefused("请求体不是UTF-8编码的JSON", code="malformed_json") from None
    if _json_depth_exceeds(text, max_depth):
        raise InputRefused("JSON嵌套层数太多", code="json_too_deep", details={"max_depth": max_depth})
    try:
        document = json.loads(text, parse_int=_bounded_number(max_number_length, int),
                              parse_float=_bounded_number(max_number_length, float),
                              parse_constant=_refuse_constant)
    except _NumberTooLong:
        raise InputRefused("JSON中的数字太长", code="json_number_too_long",
                           details={"max_digits": max_number_length}) from None
    except (ValueError, RecursionError):
        raise InputRefused("请求体不是合法的JSON", code="malformed_json") from None
    for where, text_value in _walk_strings(document):
        if has_forbidden_characters(text_value):
            raise _refuse_characters("json", where or None)
    return document


def guard_request(app: Flask) -> None:
    cfg = app.config
    if len(request.full_path) > cfg["MAX_URL_LENGTH"]:
        raise UriTooLong("请求地址太长", code="uri_too_long", details={"max_length": cfg["MAX_URL_LENGTH"]})
    if has_forbidden_characters(request.path):
        raise _refuse_characters("path")
    _check_text("query", request.args.items(multi=True))
    if request.is_json:
        raw = request.get_data(cache=True)
        if raw.strip():
            parse_guarded_json(raw, max_depth=cfg["MAX_JSON_DEPTH"], max_number_length=cfg["MAX_JSON_NUMBER_LENGTH"])
    elif request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        _check_text("form", request.form.items(multi=True))
        _check_text("files", ((name, upload.filename or "") for name, upload in request.files.items(multi=True)))


def register_input_guard(app: Flask) -> None:
    app.before_request(lambda: guard_request(app))
