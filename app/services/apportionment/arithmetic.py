"""The arithmetic of a run, pure (no database): the share and the stable payer set, the limit on
each case's aid, the management fee, and exact proportional splits. Rules: ../shared/domain.md,
"Apportionment"; all amounts integer fen."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable



@dataclass(frozen=True)
class Numbers:
    payers: int
    share_fen: int
    limited: tuple[int, ...]
    limited_total: int
    fee_fen: int
    surplus_used: int
    amount_fen: int


@dataclass(frozen=True)
class Round:
    """One step of the payer-set recomputation: `payers` give `share_fen`, which `able` can pay."""
    payers: int
    share_fen: int
    able: int


@dataclass(frozen=True)
class ShareResult:
    numbers: Numbers
    low_balance: int  # candidates below the share
    rounds: int
    settled: bool = True  # False: the payer set had no fixed point (domain.md: the smallest share in the cycle)
    trail: tuple[Round, ...] = ()  # every round, in order; a cycle's rounds are at its end


def fee_of(limited_total: int, fee_bp: int) -> int:
    return limited_total * fee_bp // 10_000


def numbers_for(payers: int, approved: list[int], cap: int, fee_bp: int, surplus: int) -> Numbers:
    limited = tuple(min(a, cap * payers) for a in approved)
    total = sum(limited)
    fee = fee_of(total, fee_bp)
    used = min(surplus, total + fee)
    amount = total + fee - used
    share = -(-amount // payers) if payers else 0
    return Numbers(payers, share, limited, total, fee, used, amount)


def solve_share(approved: list[int], cap: int, fee_bp: int, surplus: int, candidates: int,
                count_at_least: Callable[[int], int]) -> ShareResult:
    """The stable payer set: n → share(n) → n' = #(balance ≥ share) until n' = n.

    Without surplus, share(n) never increases with n, so the sequence from all candidates only
    falls and stops in a few rounds. The limited aid grows with n (cap × n), so with a surplus
    the sequence can cycle (6 payers → share 400, payable by 8; 8 payers → share 450, payable
    by 6). Then (domain.md, "When the payer set has no fixed point") the share is the smallest
    share s of the cycle and the payers are all P = #(balance ≥ s) (P is in the cycle: it follows
    the n that gave s); aid is limited to cap × P. share(P) is a share of the cycle, so ≥ s, and
    ≠ s (else P were a fixed point): s × P + surplus used falls short of the limited aid + fee,
    and the cases split all of it (planned_split); nothing is over-collected.

    Total: there is no round limit. After the first round every n is a value of count_at_least,
    which takes at most one value per distinct clamped balance (+1), so within that many rounds
    the sequence reaches a fixed point or repeats a value."""
    n, trail, position = candidates, [], {}
    while True:
        numbers = numbers_for(n, approved, cap, fee_bp, surplus)
        able = count_at_least(numbers.share_fen) if n else 0
        position[n] = len(trail)
        trail.append(Round(n, numbers.share_fen, able))
        if able == n:
            return ShareResult(numbers, candidates - n, len(trail), True, tuple(trail))
        if able in position:
            break
        n = able
    cycle = trail[position[able]:]
    share = min(r.share_fen for r in cycle)
    payers = count_at_least(share)
    at = numbers_for(payers, approved, cap, fee_bp, surplus)
    numbers = Numbers(payers, share, at.limited, at.limited_total, at.fee_fen, at.surplus_used, at.amount_fen)
    return ShareResult(numbers, candidates - payers, len(trail), False, tuple(trail))


def planned_split(numbers: Numbers) -> tuple[list[int], int]:
    """(each case's aid due, the fee due) from what the run will collect: share × payers + surplus
    used, cases first up to their limited aid, in proportion to it; then the fee. In a settled run
    that is the limited aid and the fee in full; in an unsettled one (share below share(payers))
    the cases get all of it."""
    available = numbers.share_fen * numbers.payers + numbers.surplus_used
    aid = min(numbers.limited_total, available)
    return split_proportionally(aid, list(numbers.limited)), min(numbers.fee_fen, available - aid)


def split_proportionally(total: int, weights: list[int]) -> list[int]:
    """Integer parts of `total` proportional to `weights`, summing exactly to `total`.

    Each part is floor(total × w / Σw); the fen left over go one each to the largest
    remainders, ties to the earlier case."""
    weight = sum(weights)
    if weight == 0:
        return [0] * len(weights)
    parts = [total * w // weight for w in weights]
    left = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight), i))
    for i in order[:left]:
        parts[i] += 1
    return parts


def aid_parts(total: int, due: list[int], ceilings: list[int]) -> list[int]:
    """Split the aid: up to what is due in proportion to it (no part above its due); beyond that
    (an unsettled run whose late payers brought more), up to each limited aid in proportion to
    the room left."""
    if total <= sum(due):
        return split_proportionally(total, due)
    room = [c - d for c, d in zip(ceilings, due)]
    return [d + extra for d, extra in zip(due, split_proportionally(total - sum(due), room))]
