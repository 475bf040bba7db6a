"""Public answers that many users ask for at once (the home page when an invite link spreads in large
groups): rendered once, kept in Redis for PUBLIC_CACHE_SECONDS, sent with an ETag and
Cache-Control: public so the mini-program and a CDN revalidate with If-None-Match and get a 304."""
from __future__ import annotations

import hashlib
import logging
from typing import Callable

from flask import Response, current_app, request
from marshmallow import Schema

from .security import services

log = logging.getLogger(__name__)
_KEY_PREFIX = "yiqi:public:"


def _render(schema: type[Schema], build: Callable[[], dict]) -> tuple[str, bytes]:
    body = current_app.json.dumps(schema().dump(build())).encode()
    return hashlib.sha256(body).hexdigest()[:32], body


def cached_public_json(key: str, schema: type[Schema], build: Callable[[], dict]) -> Response:
    """The answer for `key`: from Redis when fresh there, else built, dumped with a `schema` made for it
    and stored. The schema class, not an instance: making one deep-copies its fields (profiled: the
    largest cost of a cache hit when every request made one). A Redis failure only costs the cache,
    never the answer."""
    seconds = current_app.config["PUBLIC_CACHE_SECONDS"]
    redis = services().redis if seconds > 0 else None
    cached = None
    if redis is not None:
        try:
            cached = redis.get(_KEY_PREFIX + key)
        except Exception:  # redis.RedisError, connection refused: answer without the cache
            log.warning("public cache unavailable", exc_info=True, extra={"cache_key": key})
            redis = None
    if cached is not None:
        etag, body = cached.split(b"\n", 1)
        etag = etag.decode()
    else:
        etag, body = _render(schema, build)
        if redis is not None:
            try:
                redis.set(_KEY_PREFIX + key, etag.encode() + b"\n" + body, ex=seconds)
            except Exception:
                log.warning("public cache unavailable", exc_info=True, extra={"cache_key": key})
    response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = seconds
    return response.make_conditional(request)
