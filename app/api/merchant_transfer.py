"""What wx.requestMerchantTransfer needs (商家转账, issues 14 and 17): the merchant id, the app id and the
transfer's package_info. Served beside a claim's payout and a balance return's transfer, only while the
transfer waits for the member to confirm receipt in the mini-program."""
from __future__ import annotations

from flask import current_app
from marshmallow import Schema, fields


class MerchantTransferOut(Schema):
    mch_id = fields.String(required=True, metadata={"description": "wx.requestMerchantTransfer mchId"})
    app_id = fields.String(required=True, metadata={"description": "wx.requestMerchantTransfer appId"})
    package_info = fields.String(required=True, metadata={"description": "wx.requestMerchantTransfer package"})


def transfer_call(package_info: str | None) -> dict | None:
    """{mch_id, app_id, package_info} for a transfer waiting for confirmation; None otherwise."""
    if not package_info:
        return None
    cfg = current_app.config
    return {"mch_id": cfg["WECHAT_PAY_MCHID"], "app_id": cfg["WECHAT_APPID"], "package_info": package_info}


def with_payout_transfer(claim: dict) -> dict:
    payout = claim.get("payout")
    if payout is not None:
        payout["transfer"] = transfer_call(payout.get("package_info"))
    return claim


def with_return_transfer(balance_return: dict | None) -> dict | None:
    """The transfer goes to the membership's holder (app/services/refunds.py, wind_down/chunks.py), the
    only member who sees this membership, so the viewer is the one WeChat lets confirm it."""
    if balance_return is not None:
        balance_return["transfer"] = transfer_call(balance_return.get("transfer_package_info"))
    return balance_return
