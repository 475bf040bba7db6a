"""`flask pii rotate` re-encrypts the operators' TOTP secrets too: after a rotation, with the old
key gone, finance still signs in with the authenticator it enrolled before."""
import base64

from sqlalchemy import select

from app.extensions import db
from app.models import Operator
from app.services.pii import PiiProtector, key_id_of
from tests.support import make_staff
from tests.support import sign_in, sign_in_fully

NEW_KEY = base64.urlsafe_b64encode(b"T" * 32).decode()
NEW_HASH_KEY = base64.urlsafe_b64encode(b"H" * 32).decode()


def test_after_a_rotation_without_the_old_key_finance_signs_in_with_the_same_authenticator(app, client, clock,
                                                                                           services):
    make_staff(clock.now())
    secrets: dict[str, str] = {}
    sign_in_fully(client, clock, "fin", secrets)  # enrols: the secret is stored under key v1
    stored = db.session.execute(select(Operator.totp_secret_encrypted).where(Operator.username == "fin")).scalar_one()
    assert key_id_of(stored) == "v1"

    cfg = app.config
    services.pii = PiiProtector({"v1": cfg["PII_ENCRYPTION_KEY"], "v2": NEW_KEY},
                                {"v1": cfg["PII_HASH_KEY"], "v2": NEW_HASH_KEY})
    result = app.test_cli_runner().invoke(args=["pii", "rotate"])
    assert result.exit_code == 0, result.output
    assert "operators: 1 rows rewritten" in result.output
    db.session.expire_all()
    stored = db.session.execute(select(Operator.totp_secret_encrypted).where(Operator.username == "fin")).scalar_one()
    assert key_id_of(stored) == "v2"

    services.pii = PiiProtector({"v2": NEW_KEY}, {"v2": NEW_HASH_KEY})  # the old key is no longer configured
    again = app.test_client()
    assert sign_in(again, "fin").status_code == 302
    sign_in_fully(again, clock, "fin", secrets)  # the same authenticator's next code
    assert again.get("/console/money/refunds").status_code == 200
