"""Public answers that many users ask for at once (the home page when an invite link spreads in large
groups): rendered once, fresh in Redis for PUBLIC_CACHE_SECONDS (rebuilt by one request when stale),
sent with an ETag and Cache-Control: public so the mini-program and a CDN revalidate with If-None-Match
and get a 304."""
from __future__ import annotations

import hashlib
import logging
from typing import Callable

from flask import Response, current_app, request
from marshmallow import Schema

from .security import services

log = logging.getLogger(__name__)
_KEY_PREFIX = "yiqi:public:"
_REBUILD_LOCK_SECONDS = 10


def _render(schema: type[Schema], build: Callable[[], dict]) -> tuple[str, bytes]:
    body = current_app.json.dumps(schema().dump(build())).encode()
    return hashlib.sha256(body).hexdigest()[:32], body


def cached_public_json(key: str, schema: type[Schema], build: Callable[[], dict]) -> Response:
    """The answer for `key`: from Redis when fresh there, else built, dumped with a `schema` made for it
    and stored. The schema class, not an instance: making one deep-copies its fields (profiled: the
    largest cost of a cache hit when every request made one). A Redis failure only costs the cache,
    never the answer.

    Stale while one rebuilds: the entry outlives its freshness (it says until when it is fresh), and
    when it is stale one request across all workers wins a short Redis lock and rebuilds it while the
    others answer the stale copy. Without that, every request arriving as the entry expired rebuilt it
    at once: 32 connections × 15 ms of CPU for the home page, the p99 of everything queued behind."""
    seconds = current_app.config["PUBLIC_CACHE_SECONDS"]
    redis = services().redis if seconds > 0 else None
    now_ms = int(services().clock.now().timestamp() * 1000)
    entry = _read(redis, key) if redis is not None else None
    # Stale and another request holds the rebuild: the stale copy, max-age 0 (not to be kept).
    if entry is None or (entry[0] <= now_ms and _won_rebuild(redis, key)):
        etag, body = _render(schema, build)
        entry = (now_ms + seconds * 1000, etag, body)
        if redis is not None:
            _store(redis, key, entry, seconds)
    fresh_until_ms, etag, body = entry
    response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = max(0, -(-(fresh_until_ms - now_ms) // 1000))
    return response.make_conditional(request)


def _read(redis, key: str) -> tuple[int, str, bytes] | None:
    """(fresh until, epoch ms; ETag; body), or None when absent, unreadable or Redis fails."""
    try:
        cached = redis.get(_KEY_PREFIX + key)
    except Exception:  # redis.RedisError, connection refused: answer without the cache
        log.warning("public cache unavailable", exc_info=True, extra={"cache_key": key})
        return None
    if cached is None:
        return None
    try:
        fresh_until, etag, body = cached.split(b"\n", 2)
        return int(fresh_until), etag.decode(), body
    except ValueError:  # an entry in an older format: rebuilt
        return None


def _won_rebuild(redis, key: str) -> bool:
    """This request rebuilds the stale entry (a lock for a few seconds: if its holder dies, another
    request rebuilds after it); False when another holds it. Redis failing: rebuild."""
    try:
        return bool(redis.set(_KEY_PREFIX + "rebuilding:" + key, b"1", nx=True, ex=_REBUILD_LOCK_SECONDS))
    except Exception:
        log.warning("public cache unavailable", exc_info=True, extra={"cache_key": key})
        return True


def _store(redis, key: str, entry: tuple[int, str, bytes], seconds: int) -> None:
    fresh_until_ms, etag, body = entry
    try:
        with redis.pipeline(transaction=False) as pipe:
            # Kept past its freshness so a stale copy can be answered while it is rebuilt; an entry
            # nobody asks for goes.
            pipe.set(_KEY_PREFIX + key, b"%d\n%s\n" % (fresh_until_ms, etag.encode()) + body,
                     ex=2 * seconds + _REBUILD_LOCK_SECONDS)
            pipe.delete(_KEY_PREFIX + "rebuilding:" + key)
            pipe.execute()
    except Exception:
        log.warning("public cache unavailable", exc_info=True, extra={"cache_key": key})
