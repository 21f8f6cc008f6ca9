"""Same-block sequences for the differential machine: what a trader who orders a block can take.

The machine's adversary rule mines `open → middle → close` into one block: the attacker opens, someone else acts
(or the keeper pays funding, or the owner changes the curve), the attacker closes. The attacker must not end with
more than the same `open → close` without the middle action would have left it, fees and funding excluded, up to
`PROFIT_DUST` of rounding. The baseline is the reference model replayed on a copy at the same block time and
number (the model is the chain to the wei: the machine checks it after every step), so no chain snapshot is spent.

- A **neutral** middle (someone else's deposit, withdrawal, margin added or removed, an index update, the keeper's
  liquidation of them, payFunding) does not move the pool, or, for a liquidation, puts the market in restriction
  mode so that the attacker cannot close in the block: the attacker's round trip must pay exactly what it pays
  without it. Funding is left out of the comparison: with v1's periodic funding, `open → payFunding → close`
  collects a whole period's funding for a position held zero seconds (a known v1 behaviour, stopped only by
  continuous funding; see tests/property/README.md "Same-block adversary").
- A **trade** middle (someone else's open or close) moves the pool: that is a sandwich, and its profit is the price
  the middle trader paid for it (SPEC: a trader's protection is its own slippage limit, and the fluctuation limit
  where set). The check there is that nobody else pays: the attacker's gain is at most the middle trader's loss
  against the same trade placed after the attacker's round trip (`open → close → trade`), both valued with fees
  and funding left out and the position at what closing it would pay. On a constant-product pool the two are equal
  up to rounding.
- A **curve** middle (owner's adjustK or repeg) moves the price with nobody's trade: the attacker's gain would be
  paid by the InsuranceFund (the curve change's cost). It must be refused after a trade in the same block, or
  leave the attacker nothing.

When the attacker cannot close in the block (restriction mode after a liquidation, a partial close at the
fluctuation limit, a refusal), nothing is realised in the block; the position stays open under the machine's
other checks, and the comparison is skipped (the outcome is counted).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.model.protocol_model import ModelError, PnlCalcOption, Protocol
from tests.property.driver import ERROR_ALIASES

NEUTRAL_MIDDLES = ("deposit", "withdraw", "addMargin", "removeMargin", "updateAnswer", "liquidate", "payFunding")
TRADE_MIDDLES = ("open", "close")
CURVE_MIDDLES = ("adjustK", "repeg")
# wei: the rounding two round trips on the same pool may differ by (each swap rounds once, each PnL once)
PROFIT_DUST = 100


class SameBlockProfit(AssertionError):
    """An attacker ended a same-block sequence with more than the sequence without the middle action gives."""


@dataclass
class Step:
    """One transaction of a block: the model's operation (run on a given model, at the block's time and number)
    and the chain's call. `on_success` books what the test tracks besides the model (tokens, ledgers)."""

    label: str
    model_call: Callable[[Protocol, int, int], Any]
    chain_fn: Callable[..., Any]
    args: tuple[Any, ...]
    sender: str  # a holder's name, or "owner"
    on_success: Callable[[], None] | None = None


Outcome = tuple[Any, str | None]  # (the model's result, or None; the error name, or None)


def run_on_model(model: Protocol, steps: list[Step], now: int, block: int) -> list[Outcome]:
    """Each step's result or error name, in order, on `model` (a failed step leaves no trace: @atomic)."""
    outcomes: list[Outcome] = []
    for step in steps:
        try:
            outcomes.append((step.model_call(model, now, block), None))
        except ModelError as exc:
            outcomes.append((None, ERROR_ALIASES.get(exc.name, exc.name)))
    return outcomes


def replay(model: Protocol, steps: list[Step], now: int, block: int) -> tuple[Protocol, list[Outcome]]:
    """`steps` on a copy of `model`: the baselines."""
    other = copy.deepcopy(model)
    return other, run_on_model(other, steps, now, block)


def wealth(model: Protocol, market: str, trader: str, results: list[Any], now: int) -> int | None:
    """What `trader` holds with fees and funding left out: its free balance, plus the fees and funding its own
    `results` paid (PositionChanged numbers), plus margin and spot PnL (what closing pays) of its position in
    `market`; None when that position cannot be valued (a short larger than the pool after a k cut)."""
    total = model.vault.get(trader, 0)
    for result in results:
        if result is not None:
            total += result["fee"] + result["funding_payment"]
    position = model.get_position(market, trader)
    if position.size:
        try:
            _, pnl = model.position_notional_and_pnl(market, position, PnlCalcOption.SPOT_PRICE, now)
        except ModelError:
            return None
        total += position.margin + pnl
    return total
