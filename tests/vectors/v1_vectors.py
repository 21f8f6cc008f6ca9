"""Perpetual Protocol v1 scenarios as plain data, to replay on the Python model (tests/model/test_model.py) and
on the deployed contracts.

Each vector is a dict:
  name          unique id
  source        {"file": v1 test file, "test": v1 test name}; "notes" says what differs from v1, if anything
  config        overrides of BASE_CONFIG (SPEC §7 deploy keys, all wad except quote_decimals, funding_period in
                seconds, index_decimals = the mock aggregator's decimals; index_price is its first answer)
  t0_mod_3600   T0 % 3600 (default 0): deploy the market (first reserve snapshot, first aggregator round) and
                open it at T0, block 0. Only funding-time vectors care about T0's phase in the hour.
  deposits      {trader: token units} deposited into the vault at T0; insurance_fund: token units at T0
  steps         in order. Every step but "check" is one transaction, mined at T0 + t in block `block`. Block
                numbers only carry equality: steps sharing a block must be mined in one block (anvil: automine
                off, send, mine); any other gaps are free. Check steps are views at T0 + t (mine an empty
                block at that time if t is later than the last transaction).

Actions (all amounts wad unless said): open_position(trader, side 0 BUY/1 SELL, quote_amount = margin,
leverage, base_limit), close_position(trader, quote_limit), add_margin(trader, amount),
remove_margin(trader, amount), liquidate(liquidator, trader), pay_funding(), set_index_price(price: the
aggregator's new answer, as wad), set_param(key, value: an owner setter; keys as in config),
shutdown(), settle_position(trader), deposit/withdraw(trader, amount in token units).

Expectations: "error": the custom error name the transaction reverts with; "expect": numbers v1's test
asserts (the contracts must match them to the wei); "model_expect": further numbers the model computes
(same semantics, not asserted by v1: they pin rounding and the departures). Result keys: exchanged_size,
exchanged_notional (the event's positionNotional), realized_pnl, unrealized_pnl_after, funding_payment,
bad_debt (the position's), fee, size/margin/open_notional (position after), liquidation_penalty,
fee_to_liquidator, liquidation_bad_debt (PositionLiquidated.badDebt), premium_fraction,
cumulative_premium_fraction, is_partial. Check keys: position {trader: {size, margin, open_notional}},
margin_ratio, free_collateral, margin_with_funding (margin after pending funding, floored at 0), vault_wad /
balance_of (free vault balance, wad / token units rounded down), unrealized_pnl / position_notional
{trader: {"spot"|"twap"|"oracle": value}}, insurance_fund_wad/_tokens, toll_pool_wad/_tokens, reserves
[quote, base], spot_price, twap_price [[interval, value]], index_twap [[interval, value]] (the price
feed's getTwapPrice), input_price / output_price [[dir, amount, value]], cumulative_premium_fraction,
next_funding_time (seconds after T0), open_interest_notional (no SPEC getter: optional), settlement_price,
total_position_size.

v1's tests ran every call of a test in one mocked block; here every transaction has its own block and
time (15 s apart by default), as on a chain. Where that or a SPEC departure changes a v1 number, the vector
says so in "notes" and the number sits in model_expect.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

WAD = 10**18
T0_BASE = 1_800_000_000 // 3600 * 3600  # the model's T0 (hour-aligned) before t0_mod_3600
BUY, SELL = 0, 1
ADD_TO_AMM, REMOVE_FROM_AMM = 0, 1
USDC = 10**6  # one token unit scale for 6-decimal quote


def wad(value: str | int) -> int:
    """Exact decimal string -> wad."""
    scaled = Decimal(str(value)) * WAD
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than 18 decimals")
    return int(scaled)


# v1's test deployment (tests/helper/deploy.ts fullDeploy + contract.ts deployAmm): 1000 quote / 100 base,
# trade limit 90 %, margins 5 %, funding period 1 day, no fluctuation limit, no fees, 6-decimal quote token.
BASE_CONFIG: dict[str, int] = {
    "quote_decimals": 6,
    "init_margin_ratio": wad("0.05"),
    "maintenance_margin_ratio": wad("0.05"),
    "liquidation_fee_ratio": wad("0.05"),
    "partial_liquidation_ratio": 0,
    "quote_asset_reserve": wad(1000),
    "base_asset_reserve": wad(100),
    "trade_limit_ratio": wad("0.9"),
    "funding_period": 86_400,
    "fluctuation_limit_ratio": 0,
    "toll_ratio": 0,
    "spread_ratio": 0,
    "max_holding_base_asset": 0,
    "open_interest_notional_cap": 0,
    "index_price": wad(10),
    "index_decimals": 8,
}

FIRST_TRADE_T = 3600  # first transaction an hour after T0: 15-minute TWAPs no longer see the deploy time
STEP_SECONDS = 15


# ------------------------------------------------------------------------------------------------------------
# step builders (they only build dicts)
# ------------------------------------------------------------------------------------------------------------


def open_(trader: str, side: int, margin: str | int, leverage: str | int, base_limit: str | int = 0,
          **extra: Any) -> dict[str, Any]:
    return {"action": "open_position", "trader": trader, "side": side, "quote_amount": _amount(margin),
            "leverage": _amount(leverage), "base_limit": _amount(base_limit), **extra}


def close(trader: str, quote_limit: str | int = 0, **extra: Any) -> dict[str, Any]:
    return {"action": "close_position", "trader": trader, "quote_limit": _amount(quote_limit), **extra}


def add_margin(trader: str, amount: str | int, **extra: Any) -> dict[str, Any]:
    return {"action": "add_margin", "trader": trader, "amount": _amount(amount), **extra}


def remove_margin(trader: str, amount: str | int, **extra: Any) -> dict[str, Any]:
    return {"action": "remove_margin", "trader": trader, "amount": _amount(amount), **extra}


def liquidate(liquidator: str, trader: str, **extra: Any) -> dict[str, Any]:
    return {"action": "liquidate", "liquidator": liquidator, "trader": trader, **extra}


def pay_funding(**extra: Any) -> dict[str, Any]:
    return {"action": "pay_funding", **extra}


def set_index(price: str | int, **extra: Any) -> dict[str, Any]:
    return {"action": "set_index_price", "price": _amount(price), **extra}


def set_param(key: str, value: str | int, **extra: Any) -> dict[str, Any]:
    return {"action": "set_param", "key": key, "value": _amount(value), **extra}


def check(**extra: Any) -> dict[str, Any]:
    return {"action": "check", **extra}


def _amount(value: str | int) -> int:
    """Strings are decimal quote/base amounts (converted to wad); ints are taken as already in wad."""
    return wad(value) if isinstance(value, str) else value


def timed(steps: list[dict[str, Any]], start: int = FIRST_TRADE_T) -> list[dict[str, Any]]:
    """Gives every step its time and block. The first transaction is mined at `start` in block 1, each later
    one `wait` seconds (default 15) after the previous one in the next block, or in the previous one's block
    with same_block=True; a check sits at the last transaction's time plus its own `wait` (default 0)."""
    now, block = start, 0
    timed_steps = []
    for raw in steps:
        step = dict(raw)
        wait = step.pop("wait", None)
        if step["action"] == "check":
            now += wait or 0
        elif step.pop("same_block", False):
            pass
        else:
            if block > 0:
                now += STEP_SECONDS if wait is None else wait
            block += 1
        step.setdefault("t", now)
        step.setdefault("block", block)
        timed_steps.append(step)
    return timed_steps


def vector(name: str, file: str, test: str, steps: list[dict[str, Any]], *, notes: str = "",
           config: dict[str, int] | None = None, deposits: dict[str, int] | None = None,
           insurance_fund: int = 5000 * USDC, start: int = FIRST_TRADE_T, t0_mod_3600: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "source": {"file": file, "test": test},
        "notes": notes,
        "config": config or {},
        "t0_mod_3600": t0_mod_3600,
        "deposits": deposits if deposits is not None else {"alice": 5000 * USDC, "bob": 5000 * USDC},
        "insurance_fund": insurance_fund,
        "steps": timed(steps, start),
    }


AMM_SPEC = "tests/unit/AmmSpec.ts"
FEED_SPEC = "tests/unit/ChainlinkPriceFeedSpec.ts"
POSITION_TEST = "tests/integration/clearingHouse/positionTest.ts"
CH_TEST = "tests/integration/clearingHouse/ClearingHouseTest.ts"
MARGIN_TEST = "tests/integration/clearingHouse/ClearingHouse.add_removeMargin.test.ts"
BAD_DEBT_TEST = "tests/integration/clearingHouse/ClearingHouseTest_badDebt.ts"
SHUTDOWN_TEST = "tests/integration/clearingHouse/ShutdownTest.ts"

VECTORS: list[dict[str, Any]] = []

# ------------------------------------------------------------------------------------------------------------
# Amm: prices, swaps, slippage, trade and fluctuation limits, TWAP, funding times (tests/unit/AmmSpec.ts)
# ------------------------------------------------------------------------------------------------------------

VECTORS += [
    vector("amm_input_output_prices", AMM_SPEC, "getInputPrice/getOutputPrice; AmmCalculator", [
        check(expect={
            "input_price": [
                [ADD_TO_AMM, wad(50), 4761904761904761904],
                [REMOVE_FROM_AMM, wad(50), 5263157894736842106],
                [ADD_TO_AMM, wad(600), wad("37.5")],
                [REMOVE_FROM_AMM, wad(600), wad(150)],
                [ADD_TO_AMM, wad(200), 16666666666666666666],
                [REMOVE_FROM_AMM, wad(100), 11111111111111111112],
            ],
            "output_price": [
                [ADD_TO_AMM, wad(5), 47619047619047619047],
                [ADD_TO_AMM, wad(25), wad(200)],
                [REMOVE_FROM_AMM, wad(5), 52631578947368421053],
                [REMOVE_FROM_AMM, wad("37.5"), wad(600)],
                [ADD_TO_AMM, wad(60), wad(375)],
                [REMOVE_FROM_AMM, wad(20), wad(250)],
                [REMOVE_FROM_AMM, wad(25), 333333333333333333334],
                [ADD_TO_AMM, wad(20), 166666666666666666666],
                [REMOVE_FROM_AMM, wad(10), 111111111111111111112],
            ],
        }),
    ]),
    vector("amm_swap_input_long", AMM_SPEC, "swapInput, Long", [
        open_("alice", BUY, "600", "1", expect={"exchanged_size": wad("37.5"), "exchanged_notional": wad(600)}),
        check(expect={"reserves": [wad(1600), wad("62.5")]}),
    ]),
    vector("amm_swap_input_short", AMM_SPEC, "swapInput, short", [
        open_("alice", SELL, "600", "1", expect={"exchanged_size": -wad(150)}),
        check(expect={"reserves": [wad(400), wad(250)]}),
    ]),
    vector("amm_swap_input_short_then_long", AMM_SPEC, "swapInput, short and then long", [
        open_("alice", SELL, "480", "1", expect={"exchanged_size": -92307692307692307693}),
        check(expect={"reserves": [wad(520), 192307692307692307693]}),
        open_("bob", BUY, "960", "1", expect={"exchanged_size": 124740124740124740125}),
        check(expect={"reserves": [wad(1480), 67567567567567567568]}),
    ]),
    vector("amm_swap_input_short_long_long", AMM_SPEC, "swapInput, short, long and long", [
        open_("alice", SELL, "200", "1"),
        check(expect={"reserves": [wad(800), wad(125)]}),
        open_("bob", BUY, "100", "1"),
        check(expect={"reserves": [wad(900), 111111111111111111112]}),
        open_("carol", BUY, "200", "1"),
        check(expect={"reserves": [wad(1100), 90909090909090909092]}),
    ], deposits={"alice": 5000 * USDC, "bob": 5000 * USDC, "carol": 5000 * USDC}),
    vector("amm_swap_input_short_long_short", AMM_SPEC, "swapInput, short, long and short", [
        open_("alice", SELL, "200", "1", "25"),
        check(expect={"reserves": [wad(800), wad(125)]}),
        open_("bob", BUY, "450", "1", "45"),
        check(expect={"reserves": [wad(1250), wad(80)]}),
        open_("carol", SELL, "250", "1", "20"),
        check(expect={"reserves": [wad(1000), wad(100)]}),
    ], deposits={"alice": 5000 * USDC, "bob": 5000 * USDC, "carol": 5000 * USDC}),
    vector("amm_swap_input_twice_short_long", AMM_SPEC, "swapInput twice, short and long", [
        open_("alice", SELL, "10", "1"),
        open_("bob", BUY, "10", "1"),
        check(expect={"reserves": [wad(1000), 100000000000000000001]}),
    ]),
    vector("amm_swap_input_twice_long_short", AMM_SPEC, "swapInput twice, long and short", [
        open_("alice", BUY, "10", "1"),
        open_("bob", SELL, "10", "1"),
        check(expect={"reserves": [wad(1000), 100000000000000000001]}),
    ]),
    vector("amm_slippage_long_less_than_min_base", AMM_SPEC, "force error, swapInput, long but less than min base amount",
           [open_("bob", BUY, "250", "1"), open_("alice", BUY, "600", "1", "37.5", error="SlippageExceeded")],
           notes="v1 set the reserves to 1250:80 with a mock; here bob's long of 250 does it"),
    vector("amm_slippage_short_more_than_max_base", AMM_SPEC,
           "force error, swapInput, short but more than min base amount",
           [open_("bob", SELL, "200", "1"), open_("alice", SELL, "600", "1", "150", error="SlippageExceeded")],
           notes="v1 set the reserves to 800:125 with a mock; here bob's short of 200 does it"),
    vector("amm_swap_output_short_quote_limits", AMM_SPEC,
           "swapOutput, short; (amount should pay = 250) at the limit of min quote amount = 249; force error 251/400",
           [
               open_("alice", BUY, "250", "1", expect={"exchanged_size": wad(20)}),
               close("alice", "251", error="SlippageExceeded"),
               close("alice", "400", error="SlippageExceeded"),
               close("alice", "249", expect={"exchanged_notional": wad(250), "exchanged_size": -wad(20)}),
               check(expect={"reserves": [wad(1000), wad(100)]}),
           ], notes="v1 called Amm.swapOutput(ADD_TO_AMM, 20) at 1250:80; closing alice's 20 long is that swap"),
    vector("amm_swap_output_long_quote_limits", AMM_SPEC,
           "swapOutput, long; (amount should pay = 200) at the limit of max quote amount = 201; force error 199/100",
           [
               open_("alice", SELL, "200", "1", expect={"exchanged_size": -wad(25)}),
               close("alice", "199", error="SlippageExceeded"),
               close("alice", "100", error="SlippageExceeded"),
               close("alice", "201", expect={"exchanged_notional": wad(200), "exchanged_size": wad(25)}),
               check(expect={"reserves": [wad(1000), wad(100)]}),
           ], notes="v1 called Amm.swapOutput(REMOVE_FROM_AMM, 25) at 800:125; closing alice's 25 short is that swap"),
]

FLUCTUATION_5 = {"fluctuation_limit_ratio": wad("0.05")}

VECTORS += [
    vector("amm_fluctuation_long_24_ok_25_fails", AMM_SPEC,
           "swapInput, price up and under fluctuation; force error, swapInput, price up but reach the upper limit",
           [open_("alice", BUY, "25", "1", error="FluctuationLimitExceeded"), open_("alice", BUY, "24", "1")],
           config=FLUCTUATION_5),
    vector("amm_fluctuation_short_25_ok_26_fails", AMM_SPEC,
           "swapInput, price down and under fluctuation; force error, swapInput, price down but reach the lower limit",
           [open_("alice", SELL, "26", "1", error="FluctuationLimitExceeded"), open_("alice", SELL, "25", "1")],
           config=FLUCTUATION_5),
    vector("amm_fluctuation_many_swaps_one_block", AMM_SPEC,
           "force error, swap many times to over the fluctuation in a single block",
           [
               open_("alice", BUY, "10", "1"),
               open_("alice", BUY, "10", "1", same_block=True),
               open_("alice", BUY, "10", "1", same_block=True, error="FluctuationLimitExceeded"),
           ], config=FLUCTUATION_5),
    vector("amm_fluctuation_reference_is_previous_block", AMM_SPEC,
           "force error, compare price fluctuation with previous blocks in a block",
           [
               open_("alice", BUY, "10", "1"),
               open_("bob", SELL, "26", "1", error="FluctuationLimitExceeded"),
               open_("alice", BUY, "30", "1", same_block=True, error="FluctuationLimitExceeded"),
               open_("alice", BUY, "10", "1", same_block=True),
               open_("alice", BUY, "20", "1", same_block=True, error="FluctuationLimitExceeded"),
           ], config=FLUCTUATION_5,
           notes="v1's first swap shared the deploy block; here it is block 1 and the rest block 2"),
    vector("amm_fluctuation_same_after_idle_blocks", AMM_SPEC,
           "force error, the value of fluctuation is the same even when no any tradings for blocks",
           [open_("alice", BUY, "10", "1"), open_("alice", BUY, "25", "1", wait=45, error="FluctuationLimitExceeded")],
           config=FLUCTUATION_5),
]


def _twap_swaps() -> list[dict[str, Any]]:
    """AmmSpec's 'twap price' set-up: 30 swaps 14 s apart from T0 + 14, REMOVE 100 when i % 3 == 0 else ADD 50.
    Each swap is a new 1x position of its own trader, so the clearing house adds no check of its own."""
    return [open_(f"trader{i}", SELL, "100", "1", wait=14) if i % 3 == 0 else open_(f"trader{i}", BUY, "50", "1", wait=14)
            for i in range(30)]


VECTORS += [
    vector("amm_twap_price", AMM_SPEC,
           "twap price: get twap price; asking interval more than snapshots have; the timestamp of latest snapshot "
           "is now, the latest snapshot wont have any effect; asking interval less than latest snapshot, return "
           "latest price directly",
           [
               *_twap_swaps(),
               open_("trader30", SELL, "100", "1", wait=14),
               check(expect={"twap_price": [[210, 9041666666666666665], [900, 9072580645161290321]]}),
               check(wait=300, expect={"twap_price": [[210, 8099999999999999998]]}),
           ], start=14, deposits={f"trader{i}": 100 * USDC for i in range(31)},
           notes="v1 read the first two TWAPs before and after the 31st swap at the same timestamp: a snapshot at "
                 "`now` weighs 0, so both readings are taken once, after the swap"),
]

VECTORS += [
    vector("amm_next_funding_time_on_open", AMM_SPEC, "admin open amm will update nextFundingTime", [
        check(t=0, expect={"next_funding_time": 2400}),
    ], config={"funding_period": 3600}, t0_mod_3600=1200,
        notes="v1's T0 was 1444004400 (20 minutes past the hour): next funding at 1444006800 = T0 + 2400"),
    vector("amm_settle_funding_before_buffer_ends", AMM_SPEC, "settleFunding delay before fundingBufferPeriod ends", [
        pay_funding(t=2400 + 1800 - 1),
        check(expect={"next_funding_time": 2400 + 3600}),
    ], config={"funding_period": 3600}, t0_mod_3600=1200),
    vector("amm_settle_funding_after_buffer_ends", AMM_SPEC,
           "settleFunding delay after fundingBufferPeriod ends & before nextFundingTime", [
               pay_funding(t=2400 + 1800 + 1),
               check(expect={"next_funding_time": 2400 + 1800 + 1 + 1800}),
           ], config={"funding_period": 3600}, t0_mod_3600=1200),
    vector("amm_settle_funding_only_once", AMM_SPEC, "can't settleFunding multiple times at once even settleFunding delay",
           [pay_funding(t=36000), pay_funding(t=36000, same_block=True, error="FundingTooEarly")],
           config={"funding_period": 3600}, t0_mod_3600=1200),
]

# ------------------------------------------------------------------------------------------------------------
# index price TWAP (tests/unit/ChainlinkPriceFeedSpec.ts): rounds 400 @ T0, 405 @ +15, 410 @ +30, 8 decimals
# ------------------------------------------------------------------------------------------------------------

_FEED_CONFIG = {"index_price": wad(400), "index_decimals": 8}
_FEED_ROUNDS = [set_index("405"), set_index("410")]
_FEED_NOTE = ("the first aggregator round (T0) is the walk's round 0: the TWAP stops there, like v1 at round id 0; "
              "v1 averages in the aggregator's 8 decimals, then scales (405.11363636 -> 405113636360000000000)")

VECTORS += [
    vector("feed_twap", FEED_SPEC, "twap price; asking interval more than aggregator has; asking interval less than "
           "aggregator has", [
               *_FEED_ROUNDS,
               check(wait=15, expect={"index_twap": [[45, wad(405)], [46, wad(405)], [44, 405113636360000000000]]}),
           ], config=_FEED_CONFIG, start=15, notes=_FEED_NOTE, deposits={}),
    vector("feed_twap_variant_period", FEED_SPEC, "given variant price period", [
        *_FEED_ROUNDS,
        set_index("420", wait=45),
        check(wait=20, expect={"index_twap": [[95, 409736842100000000000]]}),
    ], config=_FEED_CONFIG, start=15, notes=_FEED_NOTE, deposits={}),
    vector("feed_twap_latest_older_than_interval", FEED_SPEC,
           "latest price update time is earlier than the request, return the latest price", [
               *_FEED_ROUNDS,
               check(wait=115, expect={"index_twap": [[45, wad(410)]]}),
           ], config=_FEED_CONFIG, start=15, notes=_FEED_NOTE, deposits={}),
]

# ------------------------------------------------------------------------------------------------------------
# ClearingHouse open/close (tests/integration/clearingHouse/positionTest.ts)
# ------------------------------------------------------------------------------------------------------------

_ALICE = 5000 * USDC

VECTORS += [
    vector("pos_open_long", POSITION_TEST, "open position - long", [
        open_("alice", BUY, "60", "10", "37.5", expect={"exchanged_size": wad("37.5"), "margin": wad(60)}),
        check(expect={"position": {"alice": {"size": wad("37.5"), "margin": wad(60)}}},
              model_expect={"balance_of": {"alice": _ALICE - 60 * USDC}}),
    ]),
    vector("pos_two_longs", POSITION_TEST, "open position - two longs (SPEC §8)", [
        open_("alice", BUY, "60", "10"),
        open_("alice", BUY, "60", "10"),
        check(expect={"position": {"alice": {"size": 54545454545454545454, "margin": wad(120)}}}),
    ]),
    vector("pos_two_shorts", POSITION_TEST, "open position - two shorts (SPEC §8)", [
        open_("alice", SELL, "40", "5", "25"),
        open_("alice", SELL, "40", "5", "41.67"),
        check(expect={"position": {"alice": {"size": -66666666666666666667, "margin": wad(80)}}}),
    ]),
    vector("pos_equal_opposite", POSITION_TEST, "open position - two equal size but opposite side positions", [
        open_("alice", BUY, "60", "10", "37.5"),
        check(expect={"balance_of": {"alice": _ALICE - 60 * USDC}}),
        open_("alice", SELL, "300", "2", "37.5"),
        check(expect={"position": {"alice": {"size": 0, "margin": 0}}},
              model_expect={"balance_of": {"alice": _ALICE}, "reserves": [wad(1000), wad(100)]}),
    ]),
    vector("pos_long_then_two_shorts", POSITION_TEST, "open position - one long and two shorts", [
        open_("alice", BUY, "60", "10", "37.5"),
        open_("alice", SELL, "20", "5", "4.17"),
        check(expect={"position": {"alice": {"size": 33333333333333333333, "margin": wad(60)}}}),
        open_("alice", SELL, "50", "10", "33.33"),
        check(expect={"position": {"alice": {"size": 0, "margin": 0}}}),
    ]),
    vector("pos_short_then_two_longs", POSITION_TEST, "open position - short and two longs", [
        open_("alice", SELL, "40", "5", "25"),
        open_("alice", BUY, "20", "5", "13.88"),
        check(expect={"position": {"alice": {"size": -11111111111111111112, "margin": wad(40)}}}),
        open_("alice", BUY, "10", "10"),
        check(expect={"position": {"alice": {"size": -1, "margin": 39999999999999999993}}}),
    ]),
    vector("pos_short_long_short", POSITION_TEST, "open position - short, long and short", [
        open_("alice", SELL, "20", "10", "25"),
        open_("alice", BUY, "150", "3", "44.9"),
        check(expect={"position": {"alice": {"margin": 83333333333333333333}}}),
        open_("alice", SELL, "25", "10", "19.9"),
        check(expect={"position": {"alice": {"size": 0, "margin": 0}}, "balance_of": {"alice": _ALICE}}),
    ]),
    vector("pos_long_short_long", POSITION_TEST, "open position - long, short and long", [
        open_("alice", BUY, "25", "10", "20"),
        open_("alice", SELL, "150", "3"),
        check(expect={"position": {"alice": {"size": -wad(25), "margin": 66666666666666666666}}}),
        open_("alice", BUY, "20", "10"),
        check(expect={"position": {"alice": {"size": 0, "margin": 0}}}),
    ]),
    vector("pos_pnl_zero_alone", POSITION_TEST, "pnl is 0 if no others are trading", [
        open_("alice", BUY, "250", "1"),
        open_("alice", BUY, "750", "1"),
        check(expect={"unrealized_pnl": {"alice": {"spot": 0}}}),
    ]),
    vector("pos_close_safe_position", POSITION_TEST, "close a safe position", [
        open_("alice", SELL, "50", "2", "11.12"),
        check(expect={"position": {"alice": {"size": -11111111111111111112}}}),
        open_("bob", BUY, "10", "6"),
        check(expect={"reserves": [wad(960), 104166666666666666668]}),
        close("alice"),
        check(expect={"position": {"alice": {"size": 0}},
                      "reserves": [1074626865671641791054, 93055555555555555556]}),
    ]),
    vector("pos_close_slightly_over_maintenance", POSITION_TEST,
           "close a position which is slightly over maintenanceMarginRatio", [
               open_("alice", BUY, "25", "10"),
               open_("bob", SELL, "35.08", "1"),
               close("alice"),
               check(expect={"position": {"alice": {"size": 0, "margin": 0}},
                             "reserves": [977422074620429546963, 102309946333914990288]}),
           ]),
    vector("pos_close_under_collateral_reverts", POSITION_TEST, "close a under collateral position", [
        open_("alice", BUY, "25", "10"),
        open_("bob", SELL, "250", "1"),
        close("alice", error="BadDebt"),
    ], notes="positionTest@0142939 closes with bad debt; the final ClearingHouse.closePosition requires "
             "badDebt == 0 (such a position can only be liquidated)"),
    vector("pos_fees_open_close", POSITION_TEST, "open/close position to check the fee is charged", [
        open_("alice", BUY, "60", "10"),
        close("alice"),
        check(expect={"insurance_fund_tokens": 5024 * USDC, "toll_pool_tokens": 12 * USDC}),
    ], config={"toll_ratio": wad("0.01"), "spread_ratio": wad("0.02")}),
    vector("pos_fees_toll_changed", POSITION_TEST,
           "open/close position to check the fee is charged; tollRatio changed to 1% from 5%", [
               open_("alice", BUY, "60", "10"),
               check(expect={"toll_pool_tokens": 6 * USDC}),
               set_param("toll_ratio", "0.05"),
               open_("alice", BUY, "20", "10"),
               check(expect={"toll_pool_tokens": 16 * USDC}),
               close("alice"),
               check(expect={"toll_pool_tokens": 55999999}),
           ], config={"toll_ratio": wad("0.01")}),
    vector("pos_event_open_close", POSITION_TEST, "check PositionChanged event by opening and then closing a position", [
        open_("alice", SELL, "50", "2", "11.12", expect={
            "margin": wad(50), "exchanged_notional": wad(100), "exchanged_size": -11111111111111111112,
            "fee": wad(1), "size": -11111111111111111112, "realized_pnl": 0}),
        close("alice", expect={"margin": 0, "exchanged_notional": 100000000000000000008,
                               "exchanged_size": 11111111111111111112, "fee": wad(1), "size": 0}),
    ], config={"toll_ratio": wad("0.01")}),
    vector("pos_event_opposite_same_size", POSITION_TEST,
           "check PositionChanged event by open 2 opposite side positions with the same size", [
               open_("alice", SELL, "50", "2", "11.12", expect={
                   "exchanged_notional": wad(100), "exchanged_size": -11111111111111111112, "fee": 0,
                   "size": -11111111111111111112, "realized_pnl": 0}),
               open_("alice", BUY, 99999999999999999999, "1", expect={
                   "exchanged_notional": 99999999999999999999, "exchanged_size": 11111111111111111111, "fee": 0,
                   "size": -1}),
           ], notes="the quote amount is getOutputPrice(REMOVE_FROM_AMM, 11111111111111111111) at 900:111.11"),
    vector("pos_event_smaller_opposite", POSITION_TEST, "check PositionChanged event by open a smaller opposite side position",
           [
               open_("alice", SELL, "50", "2", "11.12"),
               open_("alice", BUY, "50", "1", expect={"exchanged_notional": wad(50),
                                                      "exchanged_size": 5847953216374269005, "fee": 0,
                                                      "size": -5263157894736842107}),
           ]),
    vector("pos_event_larger_reverse_long", POSITION_TEST,
           "check exchangedPositionSize in PositionChanged event by opening a lager reverse long", [
               open_("alice", SELL, "50", "2", "11.12"),
               open_("alice", BUY, "50", "5", expect={"exchanged_notional": wad(250),
                                                      "exchanged_size": 24154589371980676328,
                                                      "size": 13043478260869565216}),
           ]),
    vector("pos_event_larger_reverse_short", POSITION_TEST,
           "check exchangedPositionSize in PositionChanged event by opening a lager reverse short", [
               open_("alice", BUY, "50", "2"),
               open_("alice", SELL, "50", "5", expect={"exchanged_notional": wad(250),
                                                       "exchanged_size": -26737967914438502674,
                                                       "size": -17647058823529411765}),
           ]),
    vector("pos_pnl_unrealized", POSITION_TEST, "pnl - unrealized", [
        open_("alice", BUY, "25", "10", "20"),
        open_("bob", SELL, "100", "10", "320"),
        check(expect={"position": {"alice": {"size": wad(20)}},
                      "unrealized_pnl": {"alice": {"spot": -238095238095238095239}}}),
    ]),
    vector("pos_not_enough_balance", POSITION_TEST, "Force error, open position - not enough balance", [
        open_("alice", BUY, "60", "10"),
        open_("alice", BUY, "141", "10", error="InsufficientBalance"),
    ], deposits={"alice": 200 * USDC}),
    vector("pos_leverage_too_high", POSITION_TEST, "Force error, open position - exceed margin ratio", [
        open_("alice", SELL, "60", "21", "37.5", error="LeverageTooHigh"),
    ]),
    vector("pos_enough_margin_not_liquidatable", POSITION_TEST,
           "alice's position has enough margin left, thus won't get liquidated", [
               open_("alice", BUY, "300", "2"),
               open_("bob", SELL, "500", "1"),
               liquidate("carol", "alice", error="MarginRatioHealthy"),
           ]),
    vector("pos_liquidated_fee_exceeds_margin", POSITION_TEST,
           "alice's position got liquidated and not enough margin left for paying liquidation fee", [
               open_("alice", BUY, "150", "4"),
               open_("bob", SELL, "500", "1"),
               liquidate("carol", "alice",
                         expect={"realized_pnl": -278761061946902654868, "bad_debt": 128761061946902654868,
                                 "fee_to_liquidator": 16061946902654867256,
                                 "liquidation_bad_debt": 16061946902654867256},
                         model_expect={"liquidation_penalty": wad(150), "exchanged_notional": 321238938053097345132,
                                       "is_partial": False}),
               check(model_expect={"balance_of": {"carol": 16061946}, "insurance_fund_wad": wad(5000) - 128761061946902654868 - 16061946902654867256}),
           ], notes="positionTest@0142939 expects liquidationPenalty 0; the final release emits the old margin (150)"),
    vector("pos_cannot_open_when_long_underwater", POSITION_TEST,
           "force error, can NOT open a long/short position when position(long) is under collateral", [
               open_("alice", BUY, "25", "10"),
               open_("bob", SELL, "250", "1"),
               open_("alice", BUY, "1", "1", error="MarginRatioTooLow"),
               open_("alice", SELL, "1", "1", error="MarginRatioTooLow"),
           ]),
    vector("pos_cannot_open_when_short_underwater", POSITION_TEST,
           "force error, can NOT open a long/short position when position(short) is under collateral", [
               open_("alice", SELL, "20", "10"),
               open_("bob", BUY, "20", "10"),
               open_("alice", SELL, "1", "1", error="MarginRatioTooLow"),
           ]),
]

# position size upper bound: setCap(10, 0)
_CAP_10 = {"max_holding_base_asset": wad(10)}
VECTORS += [
    vector("cap_long_then_smaller_short", POSITION_TEST, "open a long and a smaller short position under limit",
           [open_("alice", BUY, "110", "1"), open_("alice", SELL, "50", "1")], config=_CAP_10),
    vector("cap_two_longs", POSITION_TEST, "open two long positions under limit",
           [open_("alice", BUY, "55", "1"), open_("alice", BUY, "55", "1")], config=_CAP_10),
    vector("cap_short_then_smaller_long", POSITION_TEST, "open a short position and a smaller long under limit",
           [open_("alice", SELL, "90", "1"), open_("alice", BUY, "50", "1")], config=_CAP_10),
    vector("cap_two_shorts", POSITION_TEST, "open two short positions under limit",
           [open_("alice", SELL, "45", "1"), open_("alice", SELL, "45", "1")], config=_CAP_10),
    vector("cap_changed", POSITION_TEST, "change position size upper bound and open positions", [
        set_param("max_holding_base_asset", "20"),
        open_("alice", BUY, "25", "10", expect={"size": wad(20)}),
        close("alice"),
        open_("alice", SELL, "16", "10"),
    ], config=_CAP_10),
    vector("cap_long_over", POSITION_TEST, "force error, open a long position and over the limit",
           [open_("alice", BUY, "120", "1", error="PositionHoldingCapExceeded")], config=_CAP_10),
    vector("cap_longs_over", POSITION_TEST, "force error, open long positions and over the limit",
           [open_("alice", BUY, "60", "1"), open_("alice", BUY, "60", "1", error="PositionHoldingCapExceeded")],
           config=_CAP_10),
    vector("cap_short_over", POSITION_TEST, "force error, open a short position and over the limit",
           [open_("alice", SELL, "95", "1", error="PositionHoldingCapExceeded")], config=_CAP_10),
    vector("cap_shorts_over", POSITION_TEST, "force error, open short positions and over the limit",
           [open_("alice", SELL, "45", "1"), open_("alice", SELL, "50", "1", error="PositionHoldingCapExceeded")],
           config=_CAP_10),
    vector("cap_reverse_short_over", POSITION_TEST,
           "force error, open a long and a larger reverse short and over the limit",
           [open_("alice", BUY, "10", "10"), open_("alice", SELL, "20", "10", error="PositionHoldingCapExceeded")],
           config=_CAP_10),
    vector("cap_reverse_long_over", POSITION_TEST,
           "force error, open a short and a larger reverse long and over the limit",
           [open_("alice", SELL, "9", "10"), open_("alice", BUY, "21", "10", error="PositionHoldingCapExceeded")],
           config=_CAP_10),
]

# fee calculation: toll 5 % + spread 5 %
_FEE_10 = {"toll_ratio": wad("0.05"), "spread_ratio": wad("0.05")}
VECTORS += [
    vector("fee_open_long", POSITION_TEST, "open position when total fee is 10%", [
        open_("alice", BUY, "300", "2", "37.5", expect={
            "exchanged_notional": wad(600), "exchanged_size": wad("37.5"), "fee": wad(60),
            "size": wad("37.5"), "realized_pnl": 0}),
        check(expect={"margin_with_funding": {"alice": wad(300)}, "toll_pool_tokens": 30 * USDC,
                      "insurance_fund_tokens": 5030 * USDC},
              model_expect={"balance_of": {"alice": 0}}),
    ], config=_FEE_10, deposits={"alice": 360 * USDC}),
    vector("fee_short_twice", POSITION_TEST, "open short position twice when total fee is 10%", [
        open_("alice", SELL, "50", "2", "11.2"),
        check(model_expect={"balance_of": {"alice": 300 * USDC}}),
        open_("alice", SELL, "50", "2", "139", expect={
            "exchanged_notional": wad(100), "exchanged_size": -13888888888888888889, "fee": wad(10),
            "size": -25000000000000000001, "realized_pnl": 0}),
        check(expect={"balance_of": {"alice": 240 * USDC}, "toll_pool_tokens": 10 * USDC,
                      "insurance_fund_tokens": 5010 * USDC}),
    ], config=_FEE_10, deposits={"alice": 360 * USDC}),
    vector("fee_open_close", POSITION_TEST, "open and close position when total fee is 10%", [
        open_("alice", BUY, "300", "2", "37.5"),
        close("alice", expect={"exchanged_notional": wad(600), "exchanged_size": -wad("37.5"), "fee": wad(60),
                               "size": 0, "realized_pnl": 0}),
        check(expect={"toll_pool_tokens": 60 * USDC, "insurance_fund_tokens": 5060 * USDC}),
    ], config=_FEE_10),
    vector("fee_manual_close_long", POSITION_TEST,
           "open position and close manually by opening reverse position(long then short) when fee is 10%", [
               open_("alice", BUY, "300", "2"),
               check(model_expect={"position_notional": {"alice": {"spot": wad(600)}}}),
               open_("alice", SELL, "600", "1", expect={
                   "exchanged_notional": wad(600), "exchanged_size": -wad("37.5"), "fee": wad(60), "size": 0,
                   "realized_pnl": 0}),
               check(expect={"toll_pool_tokens": 60 * USDC, "insurance_fund_tokens": 5060 * USDC}),
           ], config=_FEE_10, deposits={"alice": 420 * USDC}),
    vector("fee_manual_close_short", POSITION_TEST,
           "open position and close manually by opening reverse position(short then long) when fee is 10%", [
               open_("alice", SELL, "300", "2"),
               check(model_expect={"position_notional": {"alice": {"spot": wad(600)}}}),
               open_("alice", BUY, "600", "1", expect={
                   "exchanged_notional": wad(600), "exchanged_size": wad(150), "fee": wad(60), "size": 0,
                   "realized_pnl": 0}),
               check(expect={"toll_pool_tokens": 60 * USDC, "insurance_fund_tokens": 5060 * USDC}),
           ], config=_FEE_10, deposits={"alice": 420 * USDC}),
    vector("fee_close_under_collateral_reverts", POSITION_TEST, "close a under collateral position when fee is 10%", [
        open_("alice", BUY, "20", "10"),
        open_("bob", SELL, "10", "10"),
        check(model_expect={"unrealized_pnl": {"alice": {"spot": -29577464788732394366}}}),
        close("alice", error="BadDebt"),
    ], config=_FEE_10, deposits={"alice": 60 * USDC, "bob": 5000 * USDC},
        notes="positionTest@0142939 closes it (toll pool 23521126); in the final release the close leaves "
              "bad debt (PnL -29.58 on margin 20) and reverts"),
    vector("fee_not_enough_balance", POSITION_TEST, "force error, not enough balance to open position when total fee is 10%",
           [open_("alice", BUY, "300", "2", "37.5", error="InsufficientBalance")],
           config=_FEE_10, deposits={"alice": 359 * USDC}),
    vector("fee_spread_no_toll", POSITION_TEST, "has spread but no toll", [
        open_("alice", BUY, "300", "2", expect={"exchanged_notional": wad(600), "exchanged_size": wad("37.5"),
                                                "fee": wad(60), "size": wad("37.5"), "realized_pnl": 0}),
        check(expect={"toll_pool_tokens": 0, "insurance_fund_tokens": 5060 * USDC}),
    ], config={"toll_ratio": 0, "spread_ratio": wad("0.1")}, deposits={"alice": 360 * USDC}),
]
