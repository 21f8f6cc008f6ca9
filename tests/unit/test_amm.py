"""Amm: swap math and rounding, trade and fluctuation limits, access control, and the mark TWAP against Perp
v1's snapshot walk, each checked to the wei against an independent integer computation (tests/trading.py).

Most tests drive a bare Amm whose "ClearingHouse" is a plain account (`swapper`), so that swaps can be called
directly; the fluctuation-limit tests go through the real ClearingHouse.
"""

from __future__ import annotations

from typing import Any

import pytest
from brownie import Amm, accounts, chain

from perp_ops.deploy import (
    DEFAULT_CONFIG,
    Deployment,
    amm_struct,
    deploy_protocol,
    feed_key,
    market_config,
)
from tests.busy_blocks import one_per_block
from tests.helpers import ADD_TO_AMM, BUY, REMOVE_FROM_AMM, SELL, WAD, reverts_with, wad
from tests.trading import (
    Pool,
    Position,
    addr,
    close_position,
    deposit,
    frozen_clock,
    in_one_block,
    input_price,
    mul,
    next_second,
    open_position,
    output_price,
    pool_of,
    spot_price,
    v1_twap,
)

Snapshots = list[tuple[int, int, int]]


@pytest.fixture(scope="module")
def swapper():
    """An account standing in for the ClearingHouse of `bare_amm`."""
    return accounts[6]


def _deploy_bare_amm(protocol: Deployment, owner: Any, swapper: Any) -> Any:
    amm = Amm.deploy(
        amm_struct(market_config(DEFAULT_CONFIG)), protocol.price_feed, feed_key("ETH"), swapper, owner, {"from": owner}
    )
    amm.growObservations(255, {"from": owner})
    amm.setOpen(True, {"from": owner})
    return amm


@pytest.fixture(scope="module")
def bare_amm(protocol, owner, swapper):
    """Pool 1000 quote / 100 base, trade limit 0.9, no fluctuation limit; its ClearingHouse is `swapper`."""
    return _deploy_bare_amm(protocol, owner, swapper)


def _swap(amm: Any, swapper: Any, kind: str, direction: int, amount: int, limit: int = 0) -> Any:
    if kind == "input":
        return amm.swapInput(direction, amount, limit, False, {"from": swapper})
    return amm.swapOutput(direction, amount, limit, False, {"from": swapper})


def _expected(mirror: Pool, kind: str, direction: int, amount: int) -> int:
    if kind == "input":
        return mirror.swap_input(direction == ADD_TO_AMM, amount)
    return mirror.swap_output(direction == ADD_TO_AMM, amount)


# ------------------------------------------------------------------------------------------------ swap math

SWAPS: list[tuple[str, int, int]] = [
    ("input", ADD_TO_AMM, wad(50)),
    ("input", REMOVE_FROM_AMM, wad(30)),
    ("output", ADD_TO_AMM, wad(5)),
    ("output", REMOVE_FROM_AMM, wad(3)),
    ("input", ADD_TO_AMM, 1),
    ("input", REMOVE_FROM_AMM, 1),
    ("output", ADD_TO_AMM, 1),
    ("output", REMOVE_FROM_AMM, 1),
    ("input", ADD_TO_AMM, wad("123.456789012345678901")),
    ("output", ADD_TO_AMM, wad("7.777777777777777777")),
    ("input", REMOVE_FROM_AMM, wad("333.333333333333333333")),
    ("output", REMOVE_FROM_AMM, wad("0.000000000000001234")),
    ("input", ADD_TO_AMM, wad("0.1")),
    ("input", REMOVE_FROM_AMM, wad("0.1")),
]


def test_swap_sequence_matches_v1_rounding(bare_amm, swapper):
    """Each quote (view) and swap (state) equals v1's formula, the reserves follow, and so does the net size."""
    mirror = pool_of(bare_amm)
    net_size = 0
    for kind, direction, amount in SWAPS:
        if kind == "input":
            view = bare_amm.getInputPrice(direction, amount)
        else:
            view = bare_amm.getOutputPrice(direction, amount)
        expected = _expected(mirror, kind, direction, amount)
        assert view == expected, (kind, direction, amount)
        tx = _swap(bare_amm, swapper, kind, direction, amount)
        # SwapResult: the amount, the pool after the swap, and the market's fee ratios and caps
        assert tuple(tx.return_value) == (expected, mirror.quote, mirror.base, 0, 0, 0, 0)
        assert tuple(bare_amm.getReserve()) == (mirror.quote, mirror.base)
        assert bare_amm.getSpotPrice() == spot_price(mirror.quote, mirror.base)
        quote_added = (kind == "input") == (direction == ADD_TO_AMM)
        base_moved = expected if kind == "input" else amount
        net_size += base_moved if quote_added else -base_moved
        assert bare_amm.totalPositionSize() == net_size
        assert bare_amm.getBaseAssetDelta() == net_size


@pytest.mark.parametrize(
    "kind, direction, amount, exact",
    [
        # k = 100000: each of these leaves no remainder, so nothing is rounded
        ("input", ADD_TO_AMM, wad(250), wad(20)),
        ("input", REMOVE_FROM_AMM, wad(500), wad(100)),
        ("output", ADD_TO_AMM, wad(25), wad(200)),
        ("output", REMOVE_FROM_AMM, wad(50), wad(1000)),
    ],
)
def test_divisible_amounts_are_not_rounded(bare_amm, swapper, kind, direction, amount, exact):
    tx = _swap(bare_amm, swapper, kind, direction, amount)
    assert tx.return_value[0] == exact


@pytest.mark.parametrize(
    "kind, direction, amount, exact",
    [
        # true values 4.7619047619047619047.., 5.2631578947368421052.., 47.619047619047619047.., 52.63157894736842105..
        ("input", ADD_TO_AMM, wad(50), 4761904761904761904),  # trader receives 1 wei less than the floor + 1
        ("input", REMOVE_FROM_AMM, wad(50), 5263157894736842106),  # trader gives 1 wei more
        ("output", ADD_TO_AMM, wad(5), 47619047619047619047),
        ("output", REMOVE_FROM_AMM, wad(5), 52631578947368421053),
    ],
)
def test_remainders_round_against_the_trader(bare_amm, swapper, kind, direction, amount, exact):
    tx = _swap(bare_amm, swapper, kind, direction, amount)
    assert tx.return_value[0] == exact


def test_round_trip_never_pays_the_trader(bare_amm, swapper):
    """Buying base and selling it straight back returns at most what was paid (the pool keeps the dust)."""
    for notional in (wad(1), wad("37.5"), wad("333.3"), 10**9 + 7):
        base = _swap(bare_amm, swapper, "input", ADD_TO_AMM, notional).return_value[0]
        back = _swap(bare_amm, swapper, "output", ADD_TO_AMM, base).return_value[0]
        assert back <= notional
        base = _swap(bare_amm, swapper, "input", REMOVE_FROM_AMM, notional).return_value[0]
        paid = _swap(bare_amm, swapper, "output", REMOVE_FROM_AMM, base).return_value[0]
        assert paid >= notional


@pytest.mark.parametrize(
    "kind, direction",
    [("input", ADD_TO_AMM), ("input", REMOVE_FROM_AMM), ("output", ADD_TO_AMM), ("output", REMOVE_FROM_AMM)],
)
def test_swap_slippage_limit(bare_amm, swapper, kind, direction):
    """Minimum out when the trader receives, maximum in when the trader gives; the exact amount passes."""
    amount = wad(20)
    mirror = pool_of(bare_amm)
    exact = _expected(mirror, kind, direction, amount)
    receives = direction == ADD_TO_AMM
    bad_limit = exact + 1 if receives else exact - 1
    before = tuple(bare_amm.getReserve())
    with reverts_with("SlippageExceeded", exact, bad_limit):
        _swap(bare_amm, swapper, kind, direction, amount, bad_limit)
    assert tuple(bare_amm.getReserve()) == before
    assert _swap(bare_amm, swapper, kind, direction, amount, exact).return_value[0] == exact


def test_zero_amount_swaps_are_no_ops(bare_amm, swapper):
    before = tuple(bare_amm.getReserve())
    assert _swap(bare_amm, swapper, "input", ADD_TO_AMM, 0).return_value[0] == 0
    assert _swap(bare_amm, swapper, "output", REMOVE_FROM_AMM, 0).return_value[0] == 0
    assert tuple(bare_amm.getReserve()) == before


def test_closed_market_rejects_swaps(bare_amm, owner, swapper):
    bare_amm.setOpen(False, {"from": owner})
    with reverts_with("MarketClosed"):
        _swap(bare_amm, swapper, "input", ADD_TO_AMM, wad(1))
    with reverts_with("MarketClosed"):
        _swap(bare_amm, swapper, "output", REMOVE_FROM_AMM, wad(1))


# ---------------------------------------------------------------------------------------------- trade limit


def _largest_passing(amount_of: Any, limit: int) -> int:
    """The largest input whose removed amount `amount_of(x)` is <= limit (monotonic), by bisection."""
    lo, hi = 1, 1
    while amount_of(hi) <= limit:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if amount_of(mid) <= limit:
            lo = mid
        else:
            hi = mid
    return lo


@pytest.mark.parametrize(
    "kind, direction",
    [("input", ADD_TO_AMM), ("input", REMOVE_FROM_AMM), ("output", ADD_TO_AMM), ("output", REMOVE_FROM_AMM)],
)
def test_trade_limit_both_directions(bare_amm, owner, swapper, kind, direction):
    """No swap may take out more than tradeLimitRatio of the reserve it removes from: at the limit it passes,
    one wei past it reverts with (amount, limit) and changes nothing."""
    bare_amm.setRatios(wad("0.1"), 0, 0, 0, {"from": owner})
    _swap(bare_amm, swapper, "input", ADD_TO_AMM, wad("12.345"))  # unround reserves
    q, b = bare_amm.getReserve()
    if kind == "input":
        if direction == ADD_TO_AMM:  # long: base leaves the pool

            def removed(x: int) -> int:
                return input_price(True, x, q, b)

            limit = mul(b, wad("0.1"))
        else:  # short: the quote itself leaves the pool

            def removed(x: int) -> int:
                return x

            limit = mul(q, wad("0.1"))
    elif direction == ADD_TO_AMM:  # closing a long: quote leaves the pool

        def removed(x: int) -> int:
            return output_price(True, x, q, b)

        limit = mul(q, wad("0.1"))
    else:  # closing a short: the base itself leaves the pool

        def removed(x: int) -> int:
            return x

        limit = mul(b, wad("0.1"))
    at_limit = _largest_passing(removed, limit)
    over = at_limit + 1
    assert removed(over) > limit
    with reverts_with("TradeLimitExceeded", removed(over), limit):
        _swap(bare_amm, swapper, kind, direction, over)
    assert tuple(bare_amm.getReserve()) == (q, b)
    _swap(bare_amm, swapper, kind, direction, at_limit)


def test_trade_limit_through_clearing_house(ch, amm, alice, bob, fund_trader):
    """With v1's 0.9: a long buying more than 90 base, or a short selling more than 900 quote, is rejected."""
    fund_trader(alice, wad(10_000))
    fund_trader(bob, wad(10_000))
    long_notional = wad(1000) * 10  # buys 90.909.. of the 100 base
    base = input_price(True, long_notional, wad(1000), wad(100))
    with reverts_with("TradeLimitExceeded", base, wad(90)):
        ch.openPosition(amm, BUY, wad(1000), wad(10), 0, {"from": alice})
    with reverts_with("TradeLimitExceeded", wad(950), wad(900)):
        ch.openPosition(amm, SELL, wad(95), wad(10), 0, {"from": bob})
    ch.openPosition(amm, SELL, wad(90), wad(10), 0, {"from": bob})  # exactly 90 % of the quote reserve


# ---------------------------------------------------------------------------------------- fluctuation limit
# anvil stamps blocks mined within one wall-clock second with the same timestamp; these tests call
# `next_second()` before each block so that every block has its own timestamp, as on a real chain. What the Amm
# does when blocks share a timestamp is in the last two tests of this section.

FLUCTUATION = wad("0.05")


@pytest.fixture(scope="module")
def fluct(owner, alice, bob, carol) -> Deployment:
    """v1's pool with a 5 % fluctuation limit; alice, bob and carol hold 1000 each in the vault."""
    d = deploy_protocol({"fluctuation_limit_ratio": FLUCTUATION}, owner)
    for trader in (alice, bob, carol):
        deposit(d, trader, wad(1000))
    return d


def _band(reference: int) -> tuple[int, int]:
    return mul(reference, WAD - FLUCTUATION), mul(reference, WAD + FLUCTUATION)


@pytest.mark.parametrize(
    "side, passing, failing",
    [(BUY, wad("2.4"), wad("2.5")), (SELL, wad("2.5"), wad("2.6"))],
)
def test_open_past_fluctuation_limit_reverts(fluct, alice, side, passing, failing):
    ch, amm = fluct.clearing_house, fluct.amm
    mirror = pool_of(amm)
    lower, upper = _band(mirror.spot)
    over = mirror.copy()
    open_position(over, Position(), side, failing, wad(10))
    assert not lower <= over.spot <= upper
    next_second()
    with reverts_with("FluctuationLimitExceeded", over.spot, lower, upper):
        ch.openPosition(amm, side, failing, wad(10), 0, {"from": alice})
    assert tuple(amm.getReserve()) == (mirror.quote, mirror.base)
    assert ch.getPosition(amm, alice)[0] == 0
    ch.openPosition(amm, side, passing, wad(10), 0, {"from": alice})
    open_position(mirror, Position(), side, passing, wad(10))
    assert lower <= mirror.spot <= upper
    assert tuple(amm.getReserve()) == (mirror.quote, mirror.base)


def test_reference_is_the_previous_blocks_price(fluct, alice, bob):
    """Each block may move the price by up to 5 % from where the previous block left it."""
    ch, amm = fluct.clearing_house, fluct.amm
    mirror = pool_of(amm)
    positions = {alice: Position(), bob: Position()}
    start = mirror.spot
    for trader in (alice, bob, alice):
        lower, upper = _band(mirror.spot)
        positions[trader] = open_position(mirror, positions[trader], BUY, wad("2.4"), wad(10)).position
        assert lower <= mirror.spot <= upper
        next_second()
        ch.openPosition(amm, BUY, wad("2.4"), wad(10), 0, {"from": trader})
        assert tuple(amm.getReserve()) == (mirror.quote, mirror.base)
    assert mirror.spot > _band(start)[1]  # 3 blocks went well past 5 % of the first price


def test_is_over_fluctuation_limit_view(fluct, alice):
    ch, amm = fluct.clearing_house, fluct.amm
    next_second()
    ch.openPosition(amm, BUY, wad("2.4"), wad(10), 0, {"from": alice})
    next_second()
    chain.mine()  # a new block: the reference is now the current price
    q, b = amm.getReserve()
    lower, upper = _band(spot_price(q, b))
    for direction in (ADD_TO_AMM, REMOVE_FROM_AMM):
        for base in (wad("0.5"), wad(1), wad("2.3"), wad("2.5"), wad(4)):
            is_add = direction == ADD_TO_AMM
            quote = output_price(is_add, base, q, b)
            after = spot_price(q - quote, b + base) if is_add else spot_price(q + quote, b - base)
            assert amm.isOverFluctuationLimit(direction, base) == (not lower <= after <= upper), (direction, base)


def test_close_crosses_once_then_the_block_is_frozen(fluct, alice, bob, carol):
    """Alice's close may cross the limit; in the same block every later trade on the market reverts (Bob's
    close, Carol's open either way), with the price already outside the band. The next block trades again."""
    ch, amm = fluct.clearing_house, fluct.amm
    next_second()
    ch.openPosition(amm, SELL, wad(1), wad(10), 0, {"from": carol})
    next_second()
    ch.openPosition(amm, BUY, wad(1), wad(10), 0, {"from": bob})
    for _ in range(3):  # +4.7 % per block, three blocks
        next_second()
        ch.openPosition(amm, BUY, wad("2.4"), wad(10), 0, {"from": alice})
    mirror = pool_of(amm)
    lower, upper = _band(mirror.spot)
    close_position(mirror, Position(*list(ch.getPosition(amm, alice))[:3]))
    assert mirror.spot < lower  # the close crosses the band
    bob_before = tuple(ch.getPosition(amm, bob))
    carol_before = tuple(ch.getPosition(amm, carol))

    next_second()
    txs = in_one_block(
        [
            lambda p: ch.closePosition(amm, 0, {"from": alice, **p}),
            lambda p: ch.closePosition(amm, 0, {"from": bob, **p}),
            lambda p: ch.openPosition(amm, SELL, wad("0.1"), wad(1), 0, {"from": carol, **p}),
            lambda p: ch.openPosition(amm, BUY, wad("0.1"), wad(1), 0, {"from": carol, **p}),
        ]
    )
    assert [tx.status for tx in txs] == [1, 0, 0, 0]
    frozen = f"FluctuationLimitExceeded: {mirror.spot}, {lower}, {upper}"
    assert [tx.revert_msg for tx in txs[1:]] == [frozen] * 3
    assert tuple(amm.getReserve()) == (mirror.quote, mirror.base)
    assert ch.getPosition(amm, alice)[0] == 0
    assert tuple(ch.getPosition(amm, bob)) == bob_before
    assert tuple(ch.getPosition(amm, carol)) == carol_before

    # next block: the reference is the price Alice's close left; Bob's close is within 5 % of it
    next_second()
    ch.closePosition(amm, 0, {"from": bob})
    assert ch.getPosition(amm, bob)[0] == 0


def test_opens_in_one_block_share_the_previous_blocks_band(fluct, alice, bob):
    """Several opens in one block: together they may not leave the band of the previous block's price."""
    ch, amm = fluct.clearing_house, fluct.amm
    next_second()
    txs = in_one_block(
        [
            lambda p: ch.openPosition(amm, BUY, wad("1.2"), wad(10), 0, {"from": alice, **p}),
            lambda p: ch.openPosition(amm, BUY, wad("1.2"), wad(10), 0, {"from": bob, **p}),
            lambda p: ch.openPosition(amm, BUY, wad("0.5"), wad(10), 0, {"from": alice, **p}),
        ]
    )
    mirror = Pool(wad(1000), wad(100))
    lower, upper = _band(mirror.spot)
    open_position(mirror, Position(), BUY, wad("1.2"), wad(10))
    open_position(mirror, Position(), BUY, wad("1.2"), wad(10))
    after_two = mirror.spot
    open_position(mirror, Position(), BUY, wad("0.5"), wad(10))
    assert [tx.status for tx in txs] == [1, 1, 0]
    assert txs[2].revert_msg == f"FluctuationLimitExceeded: {mirror.spot}, {lower}, {upper}"
    assert amm.getSpotPrice() == after_two


def test_reference_is_per_block_even_with_equal_timestamps(fluct, alice, bob):
    """Two blocks in one second (anvil, fast L2s): the second block's reference is the first block's closing
    price, as in v1 (keyed by block number), not the price before both."""
    ch, amm = fluct.clearing_house, fluct.amm
    next_second()
    chain.mine()  # the frozen clock below ignores sleeps: leave the fixture's second first
    with frozen_clock():
        tx = ch.openPosition(amm, BUY, wad("2.4"), wad(10), 0, {"from": alice})  # 10 -> 10.486: +4.9 %
        # v1: the next block's reference is 10.486, and 10.983 is +4.7 % of it
        tx2 = ch.openPosition(amm, BUY, wad("2.4"), wad(10), 0, {"from": bob})
    assert (tx2.block_number, tx2.timestamp) == (tx.block_number + 1, tx.timestamp)


def test_first_trade_in_the_deployment_second(owner, alice):
    """A trade in the same second as the Amm's deployment is measured against the initial price (it was once
    measured against a band of [0, 0] and always reverted)."""
    with frozen_clock():
        d = deploy_protocol({"fluctuation_limit_ratio": FLUCTUATION}, owner)
        deposit(d, alice, wad(100))
        d.clearing_house.openPosition(d.amm, BUY, wad(1), wad(10), 0, {"from": alice})
    assert d.clearing_house.getPosition(d.amm, alice)[0] > 0


# ---------------------------------------------------------------------------------------------- permissions


def test_only_clearing_house_may_trade(amm, owner, rando):
    for caller in (rando, owner):
        with reverts_with("OnlyClearingHouse", addr(caller)):
            amm.swapInput(ADD_TO_AMM, wad(1), 0, False, {"from": caller})
        with reverts_with("OnlyClearingHouse", addr(caller)):
            amm.swapOutput(REMOVE_FROM_AMM, wad(1), 0, True, {"from": caller})
        with reverts_with("OnlyClearingHouse", addr(caller)):
            amm.settleFunding({"from": caller})
        with reverts_with("OnlyClearingHouse", addr(caller)):
            amm.resetReserves(wad(2000), wad(200), {"from": caller})
    assert tuple(amm.getReserve()) == (wad(1000), wad(100))


def test_owner_only_setters_reject_others(amm, rando):
    calls = [
        lambda: amm.setOpen(False, {"from": rando}),
        lambda: amm.setRatios(wad("0.5"), 0, 0, 0, {"from": rando}),
        lambda: amm.setCap(wad(1), wad(1), {"from": rando}),
        lambda: amm.setMaxFundingRate(wad("0.01"), {"from": rando}),
        lambda: amm.setSettlementWindow(86_400, {"from": rando}),
        lambda: amm.shutdown({"from": rando}),
        lambda: amm.transferOwnership(rando, {"from": rando}),
    ]
    for call in calls:
        with reverts_with("OwnableUnauthorizedAccount", addr(rando)):
            call()
    assert amm.open() and not amm.isShutdown()
    assert (amm.tradeLimitRatio(), amm.fluctuationLimitRatio(), amm.tollRatio(), amm.spreadRatio()) == (
        wad("0.9"),
        0,
        0,
        0,
    )


@pytest.mark.parametrize(
    "ratios, error",
    [
        ((WAD + 1, 0, 0, 0), ("RatioAboveOne", WAD + 1)),
        ((0, 0, 0, 0), ("ZeroTradeLimit",)),  # a zero trade limit would freeze the market
        ((WAD, WAD + 1, 0, 0), ("RatioAboveOne", WAD + 1)),
        ((WAD, 0, WAD + 1, 0), ("RatioAboveOne", WAD + 1)),
        ((WAD, 0, 0, WAD + 1), ("RatioAboveOne", WAD + 1)),
        ((WAD, 0, 0, 2**64 + 1), ("RatioAboveOne", 2**64 + 1)),  # would wrap in a small storage field
        # stored in units of 1e6 wei: must be a multiple
        ((wad("0.9") + 1, 0, 0, 0), ("RatioNotInUnits", wad("0.9") + 1, 10**6)),
        ((wad("0.9"), wad("0.05") + 10**5, 0, 0), ("RatioNotInUnits", wad("0.05") + 10**5, 10**6)),
    ],
)
def test_set_ratios_rejects_ratios_above_one(amm, owner, ratios, error):
    """Each refused ratio names its rule and its value; nothing changes."""
    with reverts_with(*error):
        amm.setRatios(*ratios, {"from": owner})
    assert amm.tradeLimitRatio() == wad("0.9")


def test_set_ratios_accepts_one(amm, owner):
    tx = amm.setRatios(WAD, WAD, WAD, WAD, {"from": owner})
    assert (amm.tradeLimitRatio(), amm.fluctuationLimitRatio(), amm.tollRatio(), amm.spreadRatio()) == (WAD,) * 4
    assert dict(tx.events["ParametersChanged"][0]) == {
        "tradeLimitRatio": WAD,
        "fluctuationLimitRatio": WAD,
        "tollRatio": WAD,
        "spreadRatio": WAD,
    }


def test_set_max_funding_rate_rejects_above_one(amm, owner):
    with reverts_with("RatioAboveOne", WAD + 1):
        amm.setMaxFundingRate(WAD + 1, {"from": owner})
    amm.setMaxFundingRate(WAD, {"from": owner})
    assert amm.maxFundingRate() == WAD


def test_settlement_window_is_bounded_and_fixed_at_shutdown(amm, owner):
    """3 days by default, settable from 1 hour to 30 days; the shutdown fixes when it closes, and no setting
    moves it afterwards (MarketClosed)."""
    assert amm.settlementWindow() == 3 * 86_400 and amm.settlementWindowEnd() == 0
    for bad in (0, 3_599, 30 * 86_400 + 1):
        with reverts_with("SettlementWindowOutOfRange", bad, 3_600, 30 * 86_400):
            amm.setSettlementWindow(bad, {"from": owner})
    for good in (3_600, 30 * 86_400, 7 * 86_400):
        tx = amm.setSettlementWindow(good, {"from": owner})
        assert dict(tx.events["SettlementWindowChanged"][0]) == {"window": good}
    tx = amm.shutdown({"from": owner})
    assert amm.settlementWindowEnd() == tx.timestamp + 7 * 86_400
    with reverts_with("MarketClosed"):
        amm.setSettlementWindow(3_600, {"from": owner})
    assert amm.settlementWindow() == 7 * 86_400 and amm.settlementWindowEnd() == tx.timestamp + 7 * 86_400


# --------------------------------------------------------------------------------------------------- TWAP


def _record(amm: Any, tx: Any, snapshots: Snapshots) -> None:
    """v1 keeps one snapshot per block that traded: the reserves after it, at the block's timestamp."""
    q, b = amm.getReserve()
    snapshots.append((tx.timestamp, q, b))


def _check_twap(amm: Any, snapshots: Snapshots, intervals: tuple[int, ...] = (0, 60, 900, 3600)) -> None:
    now = chain[-1].timestamp  # calls run on the latest block
    for interval in intervals:
        assert amm.getTwapPrice(interval) == v1_twap(snapshots, now, interval), (interval, now - snapshots[0][0])


def test_twap_equals_v1_snapshot_walk(bare_amm, swapper):
    amm = bare_amm
    snapshots: Snapshots = [(amm.tx.timestamp, wad(1000), wad(100))]
    _check_twap(amm, snapshots)  # no trade yet: the spot
    trades = [
        (7, "input", ADD_TO_AMM, wad(20)),
        (120, "input", ADD_TO_AMM, wad(35)),
        (45, "output", ADD_TO_AMM, wad(2)),
        (300, "input", REMOVE_FROM_AMM, wad(60)),
        (1, "input", ADD_TO_AMM, wad("0.5")),
        (600, "output", REMOVE_FROM_AMM, wad(1)),  # history now passes 15 min
        (1800, "input", ADD_TO_AMM, wad(12)),
        (900, "input", REMOVE_FROM_AMM, wad(40)),  # and 1 h
        (2400, "output", ADD_TO_AMM, wad(3)),
    ]
    for sleep, kind, direction, amount in trades:
        chain.sleep(sleep)
        tx = _swap(amm, swapper, kind, direction, amount)
        _record(amm, tx, snapshots)
        _check_twap(amm, snapshots)  # read in the trade's own block
        for wait in (1, 59, 400):
            chain.sleep(wait)
            chain.mine()
            _check_twap(amm, snapshots)


def test_twap_history_shorter_than_interval(bare_amm, swapper):
    """Within the first 15 minutes v1 averages over the history it has."""
    amm = bare_amm
    snapshots: Snapshots = [(amm.tx.timestamp, wad(1000), wad(100))]
    chain.sleep(30)
    tx = _swap(amm, swapper, "input", ADD_TO_AMM, wad(100))
    _record(amm, tx, snapshots)
    chain.sleep(20)
    tx = _swap(amm, swapper, "input", REMOVE_FROM_AMM, wad(50))
    _record(amm, tx, snapshots)
    chain.sleep(10)
    chain.mine()
    now = chain[-1].timestamp
    assert now - snapshots[0][0] < 900
    for interval in (900, 3600):
        expected = v1_twap(snapshots, now, interval)
        covered = now - snapshots[0][0]
        hand = (
            spot_price(*snapshots[0][1:]) * (snapshots[1][0] - snapshots[0][0])
            + spot_price(*snapshots[1][1:]) * (snapshots[2][0] - snapshots[1][0])
            + spot_price(*snapshots[2][1:]) * (now - snapshots[2][0])
        ) // covered
        assert expected == hand
        assert amm.getTwapPrice(interval) == expected


def test_twap_counts_a_block_once_with_its_last_price(bare_amm, swapper):
    """Two swaps in one block leave one snapshot: the reserves after the second."""
    amm = bare_amm
    snapshots: Snapshots = [(amm.tx.timestamp, wad(1000), wad(100))]
    chain.sleep(100)
    txs = in_one_block(
        [
            lambda p: amm.swapInput(ADD_TO_AMM, wad(80), 0, False, {"from": swapper, **p}),
            lambda p: amm.swapInput(REMOVE_FROM_AMM, wad(30), 0, False, {"from": swapper, **p}),
        ]
    )
    assert [tx.status for tx in txs] == [1, 1]
    q, b = amm.getReserve()
    snapshots.append((txs[1].timestamp, q, b))
    for wait in (50, 1000):
        chain.sleep(wait)
        chain.mine()
        _check_twap(amm, snapshots)


def _trade_every(amm: Any, swapper: Any, count: int, step: int) -> Snapshots:
    """`count` swaps, one per block, `step` seconds apart; returns v1's snapshots (from an independent mirror of
    the pool, checked against the chain at the end). Raw JSON-RPC (tests/busy_blocks.py): brownie's
    receipts would take minutes."""
    mirror = Pool(wad(1000), wad(100))
    snapshots: Snapshots = [(amm.tx.timestamp, mirror.quote, mirror.base)]
    t = chain[-1].timestamp
    schedule = []
    for i in range(count):
        t += step
        direction = ADD_TO_AMM if i % 3 else REMOVE_FROM_AMM
        amount = wad(1) + (i % 500) * 10**15
        data = amm.swapInput.encode_input(direction, amount, 0, False)
        schedule.append((t, {"from": swapper.address, "to": amm.address, "data": data}))
        mirror.swap_input(direction == ADD_TO_AMM, amount)
        snapshots.append((t, mirror.quote, mirror.base))
    one_per_block(schedule)
    assert tuple(amm.getReserve()) == (mirror.quote, mirror.base)  # every swap landed, in its own block
    chain.sleep(5)
    chain.mine()
    return snapshots


# 1100 blocks, 3 s apart: more trading blocks inside a 1-hour window than the first ring (1,024 entries, one per
# block) held; the ring of one entry per trading second (4,096) keeps them all.
BUSY_BLOCKS = 1100
BUSY_STEP = 3


@pytest.fixture(scope="module")
def busy_amm(protocol, owner, swapper) -> tuple[Any, Snapshots]:
    """A bare Amm that traded in 1100 blocks, 3 s apart (an L2's pace)."""
    amm = _deploy_bare_amm(protocol, owner, swapper)
    return amm, _trade_every(amm, swapper, BUSY_BLOCKS, BUSY_STEP)


def test_twap_over_more_blocks_than_the_first_ring_held(busy_amm):
    """From a minute to the hour (the funding period), over up to 1,100 trading blocks: v1's walk, to the wei.
    (A ring that has wrapped: tests/security/test_mark_twap.py.)"""
    amm, snapshots = busy_amm
    _check_twap(amm, snapshots, (0, 60, 600, 3600))
