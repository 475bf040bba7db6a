"""Signing in: password (the API's rate limit and lock-out), then TOTP — verified, or enrolled on
first use — for the roles that need it."""
from __future__ import annotations

import segno
from flask import current_app, flash, g, redirect, render_template, request, session, url_for

from app.api.rate_limits import by_address, limiter
from app.extensions import db
from app.services import operator_totp, operators
from app.services.errors import ServiceError

from .blueprint import bp, lockout_policy, now, services, start_session
from .forms import ActionForm, LoginForm, TotpForm


def _rate_limit(scope: str):
    return limiter.limit(lambda: current_app.config["RATELIMIT_OPERATOR_LOGIN"], key_func=by_address, scope=scope,
                         methods=["POST"])


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/console/") and not target.startswith("//") else url_for(
        "console.home")


@bp.route("/login", methods=["GET", "POST"])
@_rate_limit("operator-login")  # the same limit (and bucket) as POST /api/v1/admin/auth/login
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            operator = operators.authenticate(db.session, username=form.username.data, password=form.password.data,
                                              now=now(), lockout=lockout_policy())
        except ServiceError as exc:
            form.password.errors.append(exc.message)
        else:
            start_session(operator)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("console/login.html", form=form), (200 if request.method == "GET" else 400)


@bp.route("/logout", methods=["POST"])
def logout():
    ActionForm()  # the CSRF token was checked before the view
    session.clear()
    return redirect(url_for("console.login"))


@bp.route("/totp", methods=["GET", "POST"])
@_rate_limit("operator-totp")
def totp_verify():
    if g.operator.totp_enrolled_at is None:
        return redirect(url_for("console.totp_enrol"))
    form = TotpForm()
    if form.validate_on_submit():
        try:
            operator_totp.verify(db.session, services().pii, g.operator, code=form.code.data, now=now(),
                                 lockout=lockout_policy())
        except ServiceError as exc:
            form.code.errors.append(exc.message)
        else:
            session["stage"] = "ok"
            return redirect(url_for("console.home"))
    return render_template("console/totp_verify.html", form=form)


@bp.route("/totp/enrol", methods=["GET", "POST"])
@_rate_limit("operator-totp")
def totp_enrol():
    """The secret is made once per sign-in and kept encrypted in the session until confirmed by a code."""
    if g.operator.totp_enrolled_at is not None:
        return redirect(url_for("console.totp_verify"))
    pii = services().pii
    if "totp_pending" not in session:
        session["totp_pending"] = pii.encrypt(operator_totp.new_secret())
    secret = pii.decrypt(session["totp_pending"])
    form = TotpForm()
    if form.validate_on_submit():
        try:
            operator_totp.enrol(db.session, pii, g.operator, secret=secret, code=form.code.data, now=now(),
                                lockout=lockout_policy())
        except ServiceError as exc:
            form.code.errors.append(exc.message)
        else:
            session.pop("totp_pending", None)
            session["stage"] = "ok"
            flash("动态口令已绑定。以后每次登录都需要输入动态口令。", "success")
            return redirect(url_for("console.home"))
    uri = operator_totp.provisioning_uri(secret, g.operator.username)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    spaced = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return render_template("console/totp_enrol.html", form=form, qr=qr, secret=spaced)


