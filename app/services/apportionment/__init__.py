"""Apportionment (pooled deduction) runs: prepare → publish → execute (chunks) → settle.

Rules: ../shared/domain.md, "Apportionment". Numbers, all integer fen:
- payers: memberships of the plan in good standing (observing or protected) whose observation
  started at or before the cut-off, and whose balance covers the share;
- each case's aid is limited to share_cap × payers; limited = Σ min(approved, cap × payers);
- fee = floor(limited × management_fee_bp / 10000) (rounded down: never above the stated rate);
- surplus used = min(plan surplus, limited + fee); amount = limited + fee − surplus used;
- share = ceil(amount / payers). Members below the share are left out and the share recomputed
  until the payer set is stable. The balances come from ONE grouped query (a histogram of the
  candidates' balances clamped at the largest possible share); the iteration runs over that
  histogram, never over members.

Execution debits members in ranges of membership ids (chunks), fixed when the run starts executing
(apportionment_run_chunks). Each chunk is one database transaction holding one ledger transaction
(key run:{id}:chunk:{lo}-{hi}) with one posting per payer plus the pool's, the balance updates, the
suspensions and the chunk row marked done. Workers (any number, any host) claim pending chunks with
FOR UPDATE SKIP LOCKED; killing one anywhere leaves its chunk pending for the others or the next
execute, and the worker that finds all chunks done settles the run, once.

Who pays is decided per member when its chunk runs, against the frozen share: a member who
topped up after the run was published (to avoid suspension) pays; one below the share is
suspended. So the number who pay may exceed the published payer count (the extra fen go to the
plan's surplus) and, by leaving or other debits (refused during a run by the leave guard), fall
below it: the pool always gets exactly what was debited, and settlement pays cases first.

The package, by subject: arithmetic (pure), runs (constants, finding a run, who it debited),
lifecycle (prepare, publish, cancel, settle), engine (execute in chunks), withholding (a payer
whose membership ends first), views (what the API, console and CLI show). The public names are
re-exported here: `from app.services.apportionment import prepare` keeps working."""
from app.models import GOOD_STANDING  # defined next to the membership model; re-exported for older imports

from .arithmetic import (
    Numbers, Round, ShareResult, aid_parts, fee_of, numbers_for, planned_split, solve_share, split_proportionally,
)
from .engine import ChunkResult, claim_chunk, execute, run_chunk, settle_if_done, start, write_notices
from .lifecycle import announce_executed, cancel, prepare, publish, settle, unannounced_runs
from .runs import (
    DEDUCTION_REASON, DEFAULT_CHUNK_SIZE, DEFAULT_GRACE_DAYS, RUN_REFERENCE, SETTLE_REASON, WITHHELD_RETURNED_REASON,
    chunk_totals, find_open_run, get_run, member_account_id, open_run_id, payers_select, pending_chunks, progress,
    suspended_select,
)
from .views import deductions, public_run, public_runs, run_cases, run_notes, run_out, run_view
from .withholding import WITHHELD_KEY, chunk_ahead, lock_open_run, owes_share, withhold_share, withheld_shares

__all__ = [
    "DEDUCTION_REASON", "DEFAULT_CHUNK_SIZE", "DEFAULT_GRACE_DAYS", "GOOD_STANDING", "RUN_REFERENCE", "SETTLE_REASON",
    "WITHHELD_KEY", "WITHHELD_RETURNED_REASON",
    "ChunkResult", "Numbers", "chunk_ahead", "chunk_totals", "claim_chunk", "pending_chunks", "progress", "run_chunk",
    "settle_if_done", "start", "Round", "ShareResult", "aid_parts", "cancel", "deductions", "execute", "fee_of",
    "find_open_run", "get_run", "lock_open_run", "member_account_id", "numbers_for", "open_run_id", "owes_share",
    "payers_select", "planned_split", "prepare", "public_run", "public_runs", "publish", "run_cases", "run_notes",
    "run_out", "run_view", "settle", "solve_share", "split_proportionally", "suspended_select", "withhold_share",
    "withheld_shares", "announce_executed", "unannounced_runs", "write_notices",
]
