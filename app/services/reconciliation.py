"""What one reconcile run of WeChat Pay orders and refunds checked and changed
(payments.reconcile fills the order lines, refunds.reconcile_refunds the refund lines)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ReconcileReport:
    orders_checked: int = 0
    orders_settled: int = 0
    orders_closed: int = 0
    orders_still_open: int = 0
    refunds_checked: int = 0
    refunds_completed: int = 0
    refunds_failed: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"orders checked: {self.orders_checked}, settled: {self.orders_settled}, "
                f"closed: {self.orders_closed}, still open: {self.orders_still_open}; "
                f"refunds checked: {self.refunds_checked}, completed: {self.refunds_completed}, "
                f"failed: {self.refunds_failed}; errors: {len(self.errors)}")
