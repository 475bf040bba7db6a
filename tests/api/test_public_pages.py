"""The public pages at scale: ETag/304 and Cache-Control on the home page and plan detail, the Redis
cache of their answers, and keyset pagination of announcements and runs."""
from __future__ import annotations

import datetime as dt

import pytest
import redis as redis_lib

from app.container import container_of
from app.services import apportionment
from tests.support import add_claim, add_members, make_user


@pytest.mark.parametrize("path", ["/api/v1/plans", "/api/v1/plans/adult_789"])
def test_etag_answers_304_until_the_figures_change(app, client, session, clock, path):
    first = client.get(path)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag and "public" in first.headers["Cache-Control"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    add_members(session, make_user(session, clock.now()), "adult_789", [700], clock.now())
    changed = client.get(path, headers={"If-None-Match": etag})  # figures refreshed on read in tests
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert client.get(path, headers={"If-None-Match": '"something-else"'}).status_code == 200


def test_an_unknown_plan_is_404_and_not_cached(client):
    response = client.get("/api/v1/plans/nope")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "plan_not_found"
    assert "ETag" not in response.headers


def test_answers_come_from_redis_while_fresh(app, client, session, clock, redis_url):
    cache = redis_lib.Redis.from_url(redis_url)
    cache.delete("yiqi:public:plans", "yiqi:public:plan:adult_789", "yiqi:public:announcements:100",
                 "yiqi:plan_stats:refreshing")
    app.config["PUBLIC_CACHE_SECONDS"] = 15
    container_of(app).override(redis=cache)
    try:
        first = client.get("/api/v1/plans")
        assert first.headers["Cache-Control"] == "public, max-age=15"
        assert 15 < cache.ttl("yiqi:public:plans") <= 40  # kept past its freshness, to answer while rebuilt
        add_members(session, make_user(session, clock.now()), "adult_789", [700], clock.now())
        cached = client.get("/api/v1/plans")  # the cached answer: the new member is not in it yet
        assert cached.data == first.data and cached.headers["ETag"] == first.headers["ETag"]
        cache.set("yiqi:plan_stats:refreshing", "1")  # another worker is refreshing the stale figures:
        cache.delete("yiqi:public:plans")  # the cache entry expires, the stale figures are answered
        stale = client.get("/api/v1/plans").get_json()
        assert {p["code"]: p["counts"]["members"] for p in stale["items"]}["adult_789"] == 0
        cache.delete("yiqi:public:plans", "yiqi:plan_stats:refreshing")  # that refresh's minute is over
        fresh = client.get("/api/v1/plans").get_json()
        assert {p["code"]: p["counts"]["members"] for p in fresh["items"]}["adult_789"] == 1
        client.get("/api/v1/announcements")  # the first page of all plans is cached too, per limit
        assert cache.exists("yiqi:public:announcements:100")
        client.get("/api/v1/announcements", query_string={"plan_code": "adult_789"})  # not this one
        assert cache.keys("yiqi:public:announcements:*") == [b"yiqi:public:announcements:100"]
    finally:
        container_of(app).override(redis=None)
        cache.delete("yiqi:public:plans", "yiqi:public:announcements:100", "yiqi:plan_stats:refreshing")


def test_a_stale_answer_is_rebuilt_by_one_request_while_the_others_answer_it(app, client, session, clock,
                                                                             redis_url):
    cache = redis_lib.Redis.from_url(redis_url)
    keys = ("yiqi:public:plans", "yiqi:public:rebuilding:plans", "yiqi:plan_stats:refreshing")
    cache.delete(*keys)
    app.config["PUBLIC_CACHE_SECONDS"] = 15
    container_of(app).override(redis=cache)
    try:
        first = client.get("/api/v1/plans")
        add_members(session, make_user(session, clock.now()), "adult_789", [700], clock.now())
        clock.advance(seconds=10)
        fresh = client.get("/api/v1/plans")
        assert fresh.data == first.data and fresh.headers["Cache-Control"] == "public, max-age=5"
        clock.advance(seconds=6)  # stale now; another worker won the rebuild:
        cache.set("yiqi:public:rebuilding:plans", "1", ex=10)
        stale = client.get("/api/v1/plans")  # ... so this one answers the stale copy, not to be kept
        assert stale.data == first.data and stale.headers["ETag"] == first.headers["ETag"]
        assert stale.headers["Cache-Control"] == "public, max-age=0"
        assert client.get("/api/v1/plans", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
        cache.delete("yiqi:public:rebuilding:plans", "yiqi:plan_stats:refreshing")  # that worker died
        rebuilt = client.get("/api/v1/plans")  # the first request to find the lock free rebuilds
        assert {p["code"]: p["counts"]["members"] for p in rebuilt.get_json()["items"]}["adult_789"] == 1
        assert rebuilt.headers["ETag"] != first.headers["ETag"]
        assert rebuilt.headers["Cache-Control"] == "public, max-age=15"
        assert not cache.exists("yiqi:public:rebuilding:plans")  # released for the next staleness
        assert client.get("/api/v1/plans").data == rebuilt.data  # and kept: fresh for 15 s again
        cache.set("yiqi:public:plans", b"0123abcd\n{}")  # an entry in the older format (ETag, body)
        assert len(client.get("/api/v1/plans").get_json()["items"]) == 6
    finally:
        container_of(app).override(redis=None)
        cache.delete(*keys)


def test_a_redis_failure_costs_only_the_cache(app, client):
    app.config["PUBLIC_CACHE_SECONDS"] = 15
    container_of(app).override(redis=redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2))
    try:
        response = client.get("/api/v1/plans")
        assert response.status_code == 200 and len(response.get_json()["items"]) == 6
    finally:
        container_of(app).override(redis=None)


def _announce(session, clock, count: int, started: dt.datetime) -> list[int]:
    """`count` announcements whose publicity started at `started` (so ties are broken by id)."""
    members = add_members(session, make_user(session, clock.now()), "adult_789", [300] * count, clock.now())
    return [add_claim(session, m, 1_000, started + dt.timedelta(days=5), status="publicity") for m in members]


def _pages(client, path: str, limit: int, between=lambda page: None) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        body = client.get(path, query_string=query).get_json()
        pages.append([item["id"] for item in body["items"]])
        between(len(pages))
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_announcement_pages_have_no_duplicate_or_gap_while_cases_are_published(client, session, clock):
    now = clock.now()
    existing = []
    for days_ago, count in ((9, 2), (6, 3), (3, 1), (1, 2)):  # ties on the same start
        existing += _announce(session, clock, count, now - dt.timedelta(days=days_ago))
    expected = [c["id"] for c in client.get("/api/v1/announcements").get_json()["items"]]
    assert sorted(expected) == sorted(existing) and len(expected) == 8

    published_meanwhile = []

    def publish_more(page_number):  # newer cases, and one tying with the oldest start
        published_meanwhile.extend(_announce(session, clock, 1, now))
        published_meanwhile.extend(_announce(session, clock, 1, now - dt.timedelta(days=9)))

    pages = _pages(client, "/api/v1/announcements", 3, publish_more)
    seen = [c for page in pages for c in page]
    assert len(seen) == len(set(seen)), "a case on two pages"
    assert [c for c in seen if c in existing] == expected, "a gap or a change of order"
    assert all(len(page) <= 3 for page in pages)


def test_announcement_cursor_must_be_ours(client):
    for bad in ("x", "1_2_3", "-1_2", "1", "１_2"):
        response = client.get("/api/v1/announcements", query_string={"cursor": bad})
        assert response.status_code == 422, bad


def test_run_pages_by_keyset(client, session, clock):
    user = make_user(session, clock.now())
    run_ids = []
    for _ in range(3):
        payers = add_members(session, user, "children", [1_000, 1_000], clock.now())
        add_claim(session, payers[0], 500, clock.now())
        run = apportionment.prepare(session, "children", clock.now())
        apportionment.publish(session, run.id, clock.now())
        apportionment.execute(session, run.id, clock.now())
        run_ids.append(run.id)
        clock.advance(days=1)
    everything = client.get("/api/v1/plans/children/runs").get_json()
    assert [r["id"] for r in everything["items"]] == run_ids[::-1] and everything["next_cursor"] is None
    pages = _pages(client, "/api/v1/plans/children/runs", 2)
    assert pages == [run_ids[:0:-1], run_ids[:1]]
