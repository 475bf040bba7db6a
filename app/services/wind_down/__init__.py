"""Closing a plan (docs/wind-down.md; domain.md "Wind-down").

proposed (one operator) → announced (finance, another operator, confirms): no joins, no claims for
incidents after the closing date → final_run (the closing date has passed; the cases already reported
finish through the normal path and the runs collect their aid) → refunding (nothing left in the
pipeline: one balance_returns row per membership, written set-based with the member's share of the
plan's surplus, pro rata to the balances; chunk jobs return them — balance_returns.py) → closed (the
last fen is back; the closing report is stored, hashed and chained like a monthly report).

Every step is idempotent: `advance` may be called any number of times (the scheduler does), and a
chunk job killed mid-way is handed out again after its lease; a return is processed once (its row is
locked and must still be pending) and WeChat is asked with the same numbers every time.

The package, by subject: guards (what a closing plan refuses), starting (two operators), final_run
(advance, step, the returns started, handed out and the plan closed), chunks (the returns themselves,
resubmitted and retried), views (progress, the public view, the closing report)."""
from __future__ import annotations

from .chunks import failed_items, process_chunk, resubmit, retry_failed
from .final_run import (advance, closing_report, dispatch, finish_if_done, pipeline_open, refunding_ids,
                        refunding_plan_ids, start_returns, step)
from .guards import (CLOSING_REPORT_PERIOD, DEFAULT_LEASE, SURPLUS_RULE_TEXT, check_claim_allowed,
                     check_joins_open)
from .starting import confirm, propose, withdraw
from .views import Progress, closing_report_of, for_plan, plan_status, progress, public_view, statuses

__all__ = ["CLOSING_REPORT_PERIOD", "DEFAULT_LEASE", "SURPLUS_RULE_TEXT", "Progress", "advance", "check_claim_allowed",
           "check_joins_open", "closing_report", "closing_report_of", "confirm", "dispatch", "failed_items",
           "finish_if_done", "for_plan", "pipeline_open", "plan_status", "process_chunk", "progress", "propose",
           "public_view", "refunding_ids", "refunding_plan_ids", "resubmit", "retry_failed", "start_returns", "statuses",
           "step", "withdraw"]
