from __future__ import annotations

from flask import Flask


def reconcile_payments(app: Flask):
    """The scheduled `flask payments reconcile` (every few minutes). Returns the ReconcileReport."""
    from app.extensions import db
    from app.services.payments import reconcile

    with app.app_context():
        container = app.extensions["yiqi"]
        try:
            return reconcile(db.session, container.pay, container.clock.now())
        finally:
            db.session.remove()
