"""Each request gets an id (a sane `X-Request-ID` from the proxy or client, else a new one): bound
for the request's log lines and the jobs it enqueues, and returned in the response header."""
from __future__ import annotations

from flask import Flask, g, request

from app.logs import REQUEST_ID_HEADER, bind_request_id, new_request_id, sane_request_id, unbind_request_id


def register_request_ids(app: Flask) -> None:
    @app.before_request
    def bind():
        g.request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()
        g.request_id_token = bind_request_id(g.request_id)

    @app.after_request
    def echo(response):
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        return response

    @app.teardown_request
    def unbind(_error):
        token = g.pop("request_id_token", None)
        if token is not None:
            unbind_request_id(token)
