"""The share arithmetic, without a database: the seed's figures and properties of the solver."""
from hypothesis import given, settings, strategies as st

from app.services.apportionment import numbers_for, solve_share, split_proportionally


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
        assert n.share_fen * n.payers >= n.amount_fen  # enough is collected
        assert n.amount_fen == n.limited_total + n.fee_fen - n.surplus_used
