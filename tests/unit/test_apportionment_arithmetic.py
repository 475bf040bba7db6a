"""The share arithmetic, without a database: the seed's figures and properties of the solver."""
from hypothesis import given, settings, strategies as st

from app.services.apportionment import numbers_for, planned_split, solve_share, split_proportionally


def _counter(balances):
    return lambda share: sum(1 for b in balances if b >= share)


def test_seed_arithmetic():
    case = 30_000_000  # 300,000 yuan
    assert numbers_for(100_000, [case], 300, 0, 0).share_fen == 300
    assert numbers_for(300_000, [case], 300, 0, 0).share_fen == 100
    limited = numbers_for(50_000, [case], 300, 0, 0)
    assert limited.limited_total == 15_000_000 and limited.share_fen == 300


def test_solver_drops_members_who_cannot_pay_and_recomputes():
    # 10 members, one case of 2,000 fen: share 200, but 4 hold 150 → 6 payers, whose reach limits
    # the aid to 6 × 300 = 1,800 → share 300, which the same 6 can pay: stable.
    balances = [150] * 4 + [400] * 5 + [1000]
    result = solve_share([2_000], 300, 0, 0, len(balances), _counter(balances))
    n = result.numbers
    assert n.payers == sum(1 for b in balances if b >= n.share_fen)
    assert (n.payers, n.share_fen, n.limited_total) == (6, 300, 1_800)
    assert result.low_balance == 4 and result.rounds >= 2


def test_fee_is_rounded_down_and_surplus_lowers_the_amount():
    n = numbers_for(7, [1_001], 300, 150, 10)  # fee 1.5% of 1001 = 15.015 → 15
    assert n.fee_fen == 15 and n.surplus_used == 10 and n.amount_fen == 1_006 and n.share_fen == 144


@settings(max_examples=300, deadline=None)
@given(total=st.integers(0, 10_000), weights=st.lists(st.integers(0, 10**9), min_size=1, max_size=8))
def test_split_sums_exactly_and_is_proportional(total, weights):
    parts = split_proportionally(total, weights)
    if sum(weights) == 0:
        assert parts == [0] * len(weights)
        return
    assert sum(parts) == total and all(p >= 0 for p in parts)
    for p, w in zip(parts, weights):
        assert abs(p - total * w / sum(weights)) < 1


@settings(max_examples=300, deadline=None)
@given(balances=st.lists(st.integers(0, 3_000), min_size=1, max_size=60),
       approved=st.lists(st.integers(1, 50_000), min_size=1, max_size=5),
       cap=st.integers(1, 300), fee_bp=st.integers(0, 1_000), surplus=st.integers(0, 200))
def test_solver_properties(balances, approved, cap, fee_bp, surplus):
    result = solve_share(approved, cap, fee_bp, surplus, len(balances), _counter(balances))
    n = result.numbers
    if n.payers == 0:  # no payer set can carry the cases: prepare refuses such a run
        if surplus == 0:  # share(n) never rises with n: the largest self-sustaining set would have been found
            assert all(_counter(balances)(numbers_for(k, approved, cap, fee_bp, 0).share_fen) < k
                       for k in range(1, len(balances) + 1))
        return
    able = sum(1 for b in balances if b >= n.share_fen)
    assert n.payers == able  # exactly those who can pay are payers
    assert result.low_balance == len(balances) - able
    if n.payers:
        assert all(lim <= cap * n.payers for lim in n.limited)
        assert n.amount_fen == n.limited_total + n.fee_fen - n.surplus_used
        due, fee_due = planned_split(n)
        collected = n.share_fen * n.payers + n.surplus_used
        # Over-collection below one fen per payer, cycles included; the cases' due never above their limit.
        assert 0 <= collected - sum(due) - fee_due < n.payers
        assert all(0 <= d <= lim for d, lim in zip(due, n.limited))
        if result.settled:
            assert n.share_fen * n.payers >= n.amount_fen  # enough is collected
            assert list(due) == list(n.limited) and fee_due == n.fee_fen
        else:
            _assert_cycle_rule(result, approved, cap, fee_bp, surplus, _counter(balances))


def _assert_cycle_rule(result, approved, cap, fee_bp, surplus, count):
    """domain.md, "When the payer set has no fixed point"."""
    n = result.numbers
    rounds = result.trail
    last = rounds[-1]
    start = next(i for i, r in enumerate(rounds) if r.payers == last.able)
    cycle = rounds[start:]
    assert len(cycle) >= 2 and all(count(r.share_fen) == r.able for r in cycle)
    assert n.share_fen == min(r.share_fen for r in cycle)  # the smallest share of the cycle
    assert n.payers == count(n.share_fen)  # every member who can pay it pays it
    at = numbers_for(n.payers, approved, cap, fee_bp, surplus)
    assert n.limited == at.limited  # aid limited to cap × those payers
    # It falls short of the limited aid + fee, so the cases share all of it: nothing over-collected.
    due, fee_due = planned_split(n)
    assert n.share_fen * n.payers + n.surplus_used == sum(due) + fee_due
    assert n.share_fen * n.payers < n.amount_fen


def test_a_cycle_takes_the_smallest_share_and_everyone_who_can_pay_it():
    # seniors run 3: 11 candidates, two large cases, 1,200 fen surplus, cap 300. 11 → 491 (6 can pay);
    # 6 payers → limited 2 × 1,800, amount 2,400, share 400, which 8 can pay; 8 payers → limited
    # 2 × 2,400, amount 3,600, share 450, which only 6 can pay: a cycle.
    balances = [1_000] * 6 + [420] * 2 + [100] * 3
    count = _counter(balances)
    result = solve_share([5_000, 5_000], 300, 0, 1_200, len(balances), count)
    n = result.numbers
    assert not result.settled
    assert [(r.payers, r.share_fen, r.able) for r in result.trail] == [(11, 491, 6), (6, 400, 8), (8, 450, 6)]
    assert (n.payers, n.share_fen, n.limited, n.surplus_used) == (8, 400, (2_400, 2_400), 1_200)
    due, fee_due = planned_split(n)
    assert due == [2_200, 2_200] and fee_due == 0  # 8 × 400 + 1,200 = 4,400, all of it to the cases


@settings(max_examples=300, deadline=None)
@given(payers_low=st.integers(2, 12), extra=st.integers(1, 6), cases=st.integers(1, 3), cap=st.integers(50, 300),
       surplus_cases=st.floats(0.05, 0.95), low_frac=st.floats(0.0, 1.0), fee_bp=st.integers(0, 300))
def test_forced_cycles_follow_the_rule(payers_low, extra, cases, cap, surplus_cases, low_frac, fee_bp):
    """Balances built to make the payer set cycle: a group of `payers_low` rich members and `extra`
    members whose balance sits between share(high) and share(low). Whatever the solver decides,
    the rule's properties hold; most examples do cycle."""
    high = payers_low + extra
    approved = [cap * high * 3] * cases  # large cases: limited aid grows with every payer
    surplus = int(sum(min(a, cap * payers_low) for a in approved) * surplus_cases)
    s_low = numbers_for(payers_low, approved, cap, fee_bp, surplus).share_fen
    s_high = numbers_for(high, approved, cap, fee_bp, surplus).share_fen
    middle = s_low + int((max(s_high, s_low) - s_low) * low_frac) if s_high > s_low else s_low
    balances = [10 * cap * cases] * payers_low + [middle] * extra + [0] * 3
    count = _counter(balances)
    result = solve_share(approved, cap, fee_bp, surplus, len(balances), count)
    n = result.numbers
    assert n.payers == count(n.share_fen) or n.payers == 0
    if not result.settled:
        _assert_cycle_rule(result, approved, cap, fee_bp, surplus, count)
