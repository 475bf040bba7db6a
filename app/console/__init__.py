"""The operators' web console at /console: server-rendered pages over the same services as the
admin API. Cookie sessions (HttpOnly, SameSite=Strict, Secure outside development), CSRF on every
form (Flask-WTF, this blueprint only: the JSON API authenticates by bearer token), a
Content-Security-Policy without inline scripts or styles, TOTP for finance and reviewers."""
from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()


def init_console(app: Flask) -> None:
    # CSRFProtect checks nothing by itself (WTF_CSRF_CHECK_DEFAULT=False): the console's before_request
    # protects its own POSTs, so the bearer-token API stays exempt without listing its routes.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(app)
    from . import views  # noqa: F401  (routes)
    from . import proposals  # noqa: F401  (routes: rule-change proposals)
    from . import wind_down  # noqa: F401  (routes: a plan's wind-down)
    from .blueprint import bp

    app.register_blueprint(bp)
