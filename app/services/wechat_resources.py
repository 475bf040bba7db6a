"""The shapes of what WeChat Pay tells us (a decrypted notification resource, an order query's answer).

A valid signature proves who sent a payload, not that its fields have the types we use: an amount
as a string or a list, a payer as a string, an out_trade_no as a number would otherwise reach our
comparisons and queries. Each resource is validated here before anything reads it; unknown fields
are kept (WeChat adds fields over time), known ones must have WeChat's documented type and size."""
from __future__ import annotations

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from .errors import InvalidRequest


def _text(max_length: int, *, required: bool = True) -> fields.String:
    return fields.String(required=required, validate=validate.Length(min=1, max=max_length))


def _fen(*, required: bool = True) -> fields.Integer:
    return fields.Integer(required=required, strict=True, validate=validate.Range(min=0, max=2**53))


class _Resource(Schema):
    class Meta:
        unknown = INCLUDE


class TransactionAmount(_Resource):
    total = _fen()
    payer_total = _fen(required=False)
    currency = _text(16, required=False)
    payer_currency = _text(16, required=False)


class Payer(_Resource):
    openid = _text(128)


class Transaction(_Resource):
    """A paid transaction (TRANSACTION.SUCCESS resource, or a query answer in state SUCCESS/REFUND)."""

    appid = _text(32)
    mchid = _text(32)
    out_trade_no = _text(32)
    transaction_id = _text(32)
    trade_state = _text(32)
    trade_type = _text(16, required=False)
    success_time = _text(64, required=False)
    amount = fields.Nested(TransactionAmount, required=True)
    payer = fields.Nested(Payer, required=True)


class RefundAmount(_Resource):
    total = _fen()
    refund = _fen()
    payer_total = _fen(required=False)
    payer_refund = _fen(required=False)


class Refund(_Resource):
    """A REFUND.* notification resource."""

    mchid = _text(32)
    out_trade_no = _text(32)
    transaction_id = _text(32, required=False)
    out_refund_no = _text(64)
    refund_id = _text(32, required=False)
    refund_status = _text(32)
    success_time = _text(64, required=False)
    amount = fields.Nested(RefundAmount, required=True)


class TransferBill(_Resource):
    """A MCHTRANSFER.BILL.FINISHED resource (merchant transfer of a claim's aid)."""

    out_bill_no = _text(32)
    transfer_bill_no = _text(64, required=False)
    state = _text(32)
    mch_id = _text(32, required=False)
    transfer_amount = _fen(required=False)
    openid = _text(128, required=False)
    fail_reason = _text(64, required=False)
    package_info = _text(2048, required=False)


def validated(schema: type[Schema], resource) -> dict:
    """The resource if it has the expected shape, else InvalidRequest (a 400; nothing is changed)."""
    if not isinstance(resource, dict):
        raise InvalidRequest("微信支付数据格式不正确", code="notification_malformed", details={"fields": ["not an object"]})
    try:
        return schema().load(resource)
    except ValidationError as exc:
        # Field names only: the values may be anything and are not echoed back.
        raise InvalidRequest("微信支付数据格式不正确", code="notification_malformed",
                             details={"fields": sorted(_field_paths(exc.messages))}) from None


def _field_paths(messages, prefix: str = "") -> list[str]:
    paths = []
    for key, value in (messages.items() if isinstance(messages, dict) else ()):
        # "_schema": the value itself has the wrong type (e.g. a string where an object belongs).
        path = (prefix[:-1] or "resource") if key == "_schema" else f"{prefix}{key}"
        nested = _field_paths(value, path + ".") if isinstance(value, dict) else []
        paths.extend(nested or [path])
    return paths
