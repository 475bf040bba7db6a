from __future__ import annotations

from flask import Flask

from app.container import container_of


def reconcile_payments(app: Flask):
    """The scheduled `flask payments reconcile` (every few minutes). Returns the ReconcileReport."""
    from app.extensions import db
    from app.services.payments import reconcile

    with app.app_context():
        container = container_of(app)
        try:
            return reconcile(db.session, container.pay, container.clock.now())
        finally:
            db.session.remove()
