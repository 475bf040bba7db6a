"""Our own bearer tokens: signed, expiring, and separate per audience (members, operators)."""
from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .errors import Unauthorized


class TokenIssuer:
    def __init__(self, secret_key: str, audience: str, max_age_seconds: int):
        self._serializer = URLSafeTimedSerializer(secret_key, salt=f"yiqi-{audience}-token")
        self._max_age = max_age_seconds
        self.max_age_seconds = max_age_seconds

    def issue(self, subject_id: int) -> str:
        return self._serializer.dumps({"sub": subject_id})

    def verify(self, token: str) -> int:
        try:
            payload = self._serializer.loads(token, max_age=self._max_age)
        except SignatureExpired:
            raise Unauthorized("登录已过期，请重新登录", code="token_expired") from None
        except BadSignature:
            raise Unauthorized("登录凭证无效，请重新登录", code="token_invalid") from None
        subject = payload.get("sub") if isinstance(payload, dict) else None
        if type(subject) is not int:
            raise Unauthorized("登录凭证无效，请重新登录", code="token_invalid")
        return subject
