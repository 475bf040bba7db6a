"""Prepaid top-ups through WeChat Pay v3, exactly once.

The order is ours first (out_trade_no written before WeChat is called); WeChat is called outside
any database transaction; a payment is credited by one function, `settle_transaction`, whether
we learn about it from a notification or from querying the order (reconcile). The credit's
idempotency key is WeChat's transaction_id, and the order row moves to 'paid' in the same
database transaction as the credit, so a duplicate (even a concurrent one) credits nothing.

The package, by subject: topups (starting one), settlement (crediting a paid transaction, the
notify URL), reconcile_orders (asking WeChat about open orders), statement (the member's balance
movements). The public names are re-exported here: `from app.services.payments import reconcile`
keeps working."""
from ..reconciliation import ReconcileReport  # where it lives; re-exported for older imports
from .reconcile_orders import RECONCILE_AFTER, reconcile, reconcile_order
from .settlement import (
    TOPUP_KEY_PREFIX, NotificationOutcome, SettleResult, handle_notification, settle_transaction,
)
from .statement import Movement, describe_movement, member_movements
from .topups import (
    ORDER_TTL, StartedTopup, TopupTarget, get_order_for_payer, member_user_id, new_out_trade_no, own_target,
    sponsor_target, start_topup,
)

__all__ = [
    "ORDER_TTL", "RECONCILE_AFTER", "TOPUP_KEY_PREFIX", "Movement", "NotificationOutcome", "ReconcileReport",
    "SettleResult", "StartedTopup", "TopupTarget", "describe_movement", "get_order_for_payer", "handle_notification",
    "member_movements", "member_user_id", "new_out_trade_no", "own_target", "reconcile", "reconcile_order",
    "settle_transaction", "sponsor_target", "start_topup",
]
