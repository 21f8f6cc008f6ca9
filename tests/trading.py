"""Trading helpers for the chain tests: v1's trading math (from the reference model, tests/model), a mirror pool,
v1's reserve-snapshot TWAP walk, and chain helpers.

Everything here is written from SPEC.md and v1's semantics, not from the contracts: the tests compare the
contracts against it to the wei. Amounts are wad ints; `mul`/`div` truncate toward zero like v1's
Decimal/SignedDecimal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.model.protocol_model import (
    WAD,
    Dir,
    div,
    div_toward_zero,
    input_price_with_reserves,
    mul,
    output_price_with_reserves,
    snapshot_twap,
)

__all__ = ["WAD", "div", "mul", "tdiv"]
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
BUY, SELL = 0, 1


# ------------------------------------------------------------------------------- v1's math: the reference model's
# One implementation of v1's fixed point and pool rounding (tests/model/protocol_model.py); the names below are the
# trading tests' adapters (a bool direction instead of the model's `Dir`).

tdiv = div_toward_zero


def input_price(is_add: bool, quote_amount: int, quote_reserve: int, base_reserve: int) -> int:
    """Base for adding/removing `quote_amount` of quote (v1's getInputPriceWithReserves)."""
    return input_price_with_reserves(Dir.ADD_TO_AMM if is_add else Dir.REMOVE_FROM_AMM, quote_amount, quote_reserve,
                                     base_reserve)


def output_price(is_add: bool, base_amount: int, quote_reserve: int, base_reserve: int) -> int:
    """Quote for adding/removing `base_amount` of base (v1's getOutputPriceWithReserves)."""
    return output_price_with_reserves(Dir.ADD_TO_AMM if is_add else Dir.REMOVE_FROM_AMM, base_amount, quote_reserve,
                                      base_reserve)


def spot_price(quote_reserve: int, base_reserve: int) -> int:
    return div(quote_reserve, base_reserve)


@dataclass
class Pool:
    """A mirror of the virtual pool's reserves."""

    quote: int
    base: int

    def swap_input(self, is_add: bool, quote_amount: int) -> int:
        """Trade `quote_amount` of quote in (long) or out (short); returns the base exchanged."""
        base = input_price(is_add, quote_amount, self.quote, self.base)
        if is_add:
            self.quote, self.base = self.quote + quote_amount, self.base - base
        else:
            self.quote, self.base = self.quote - quote_amount, self.base + base
        return base

    def swap_output(self, is_add: bool, base_amount: int) -> int:
        """Trade `base_amount` of base in (close a long) or out (close a short); returns the quote."""
        quote = output_price(is_add, base_amount, self.quote, self.base)
        if is_add:
            self.quote, self.base = self.quote - quote, self.base + base_amount
        else:
            self.quote, self.base = self.quote + quote, self.base - base_amount
        return quote

    @property
    def spot(self) -> int:
        return spot_price(self.quote, self.base)

    def copy(self) -> Pool:
        return Pool(self.quote, self.base)


def v1_twap(
    snapshots: list[tuple[int, int, int]],
    now: int,
    interval: int,
    price_of: Callable[[int, int], int] = spot_price,
) -> int:
    """Perp v1's reserve-snapshot walk (`calcTwap`, the model's `snapshot_twap`) over `snapshots`: (timestamp,
    quoteReserve, baseReserve) in chain order, one per block that traded, the first the pool's initial state.
    `price_of(quote, base)` is the value averaged: the spot price (the mark TWAP) or an output amount (v1's
    `getOutputTwap`, a position's TWAP notional)."""
    return snapshot_twap([(ts, price_of(q, b)) for ts, q, b in snapshots], interval, now)


# ------------------------------------------------------------------------------------------ position math


@dataclass
class Position:
    size: int = 0
    margin: int = 0
    open_notional: int = 0


@dataclass
class Outcome:
    """What one position change does (the fields of PositionChanged, plus the vault flows)."""

    position: Position
    exchanged_quote: int = 0
    exchanged_size: int = 0
    realized_pnl: int = 0
    unrealized_pnl_after: int = 0
    margin_to_vault: int = 0  # > 0 taken from the free balance, < 0 paid back to it
    toll: int = 0
    spread: int = 0
    spot_after: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def fee(self) -> int:
        return self.toll + self.spread


def spot_notional_and_pnl(pos: Position, pool: Pool) -> tuple[int, int]:
    """v1's SPOT_PRICE valuation: what closing the whole position now would return, and the PnL."""
    if pos.size == 0:
        return 0, 0
    notional = output_price(pos.size > 0, abs(pos.size), pool.quote, pool.base)
    pnl = notional - pos.open_notional if pos.size > 0 else pos.open_notional - notional
    return notional, pnl


def _with_fees(out: Outcome, pool: Pool, toll_ratio: int, spread_ratio: int) -> Outcome:
    out.toll = mul(out.exchanged_quote, toll_ratio)
    out.spread = mul(out.exchanged_quote, spread_ratio)
    out.spot_after = pool.spot
    return out


def _increase(pool: Pool, pos: Position, side: int, notional: int, leverage: int) -> Outcome:
    is_long = side == BUY
    base = pool.swap_input(is_long, notional)
    exchanged = base if is_long else -base
    margin_requirement = div(notional, leverage)
    new = Position(pos.size + exchanged, pos.margin + margin_requirement, pos.open_notional + notional)
    # v1 reports the PnL of the position as it was before the trade, valued at the pool after it (0 for a new
    # position): internalIncreasePosition reads the stored position before it is replaced
    _, upnl = spot_notional_and_pnl(pos, pool)
    return Outcome(new, notional, exchanged, 0, upnl, margin_requirement)


def _close(pool: Pool, pos: Position) -> Outcome:
    _, pnl = spot_notional_and_pnl(pos, pool)
    quote = pool.swap_output(pos.size > 0, abs(pos.size))
    remain = pos.margin + pnl
    assert remain >= 0, "bad debt: not modelled here"
    return Outcome(Position(), quote, -pos.size, pnl, 0, -remain)


def open_position(
    pool: Pool, pos: Position, side: int, margin: int, leverage: int, toll_ratio: int = 0, spread_ratio: int = 0
) -> Outcome:
    """v1's openPosition with no funding: increase, reduce, or close and reverse. Mutates `pool`."""
    notional = mul(margin, leverage)
    if pos.size == 0 or (pos.size > 0) == (side == BUY):
        return _with_fees(_increase(pool, pos, side, notional, leverage), pool, toll_ratio, spread_ratio)
    old_notional, upnl = spot_notional_and_pnl(pos, pool)
    if old_notional > notional:
        base = pool.swap_input(side == BUY, notional)
        exchanged = base if side == BUY else -base
        realized = div(mul(upnl, base), abs(pos.size))
        unrealized_after = upnl - realized
        if pos.size > 0:
            remain_open_notional = old_notional - notional - unrealized_after
        else:
            remain_open_notional = unrealized_after + old_notional - notional
        assert remain_open_notional > 0
        new = Position(pos.size + exchanged, pos.margin + realized, remain_open_notional)
        out = Outcome(new, notional, exchanged, realized, unrealized_after, 0)
        out.extra = {"old_notional": old_notional, "unrealized_pnl_before": upnl}
        return _with_fees(out, pool, toll_ratio, spread_ratio)
    closed = _close(pool, pos)
    rest = notional - closed.exchanged_quote
    if div(rest, leverage) == 0:
        return _with_fees(closed, pool, toll_ratio, spread_ratio)
    opened = _increase(pool, Position(), side, rest, leverage)
    out = Outcome(
        opened.position,
        closed.exchanged_quote + opened.exchanged_quote,
        closed.exchanged_size + opened.exchanged_size,
        closed.realized_pnl,
        0,
        closed.margin_to_vault + opened.margin_to_vault,
    )
    return _with_fees(out, pool, toll_ratio, spread_ratio)


def close_position(pool: Pool, pos: Position, toll_ratio: int = 0, spread_ratio: int = 0) -> Outcome:
    """v1's closePosition (whole, no funding). Mutates `pool`."""
    return _with_fees(_close(pool, pos), pool, toll_ratio, spread_ratio)


# ---------------------------------------------------------------------------------------------- chain helpers


def deposit(d: Any, trader: Any, units: int) -> None:
    """Mint `units` token units to `trader` and deposit them into the vault."""
    d.quote_token.mint(trader, units, {"from": trader})
    d.quote_token.approve(d.vault, units, {"from": trader})
    d.vault.deposit(units, {"from": trader})


def position_of(ch: Any, amm: Any, trader: Any) -> Position:
    size, margin, open_notional, _ = ch.getPosition(amm, trader)
    return Position(size, margin, open_notional)


def pool_of(amm: Any) -> Pool:
    quote, base = amm.getReserve()
    return Pool(quote, base)


def capture_state(d: Any, holders: list[Any]) -> dict[str, Any]:
    """Everything a rejected call must leave as it was: token and vault balances of `holders`, the insurance
    fund and the fee pool, the vault's tokens, the unpaid bad debt, and per market the reserves, net size, booked
    collateral, cumulative premium fraction, open interest, settlement book, every holder's position and
    settlement claim, and the governance settings."""
    ch, vault, token = d.clearing_house, d.vault, d.quote_token
    fee_pool = ch.feePool()
    everyone = [*holders, d.insurance_fund]
    if fee_pool != ZERO_ADDRESS:
        everyone.append(fee_pool)
    state: dict[str, Any] = {
        "vault_tokens": token.balanceOf(vault),
        "paused": ch.paused(),
        "fee_pool": fee_pool,
        "params": (ch.initMarginRatio(), ch.maintenanceMarginRatio(), ch.liquidationFeeRatio(), ch.partialLiquidationRatio()),
        "ch_owner": ch.owner(),
        "unpaid bad debt": ch.unpaidBadDebt(),
    }
    for holder in everyone:
        state[f"vault {holder}"] = vault.balanceOfWad(holder)
        state[f"token {holder}"] = token.balanceOf(holder)
    for symbol, amm in d.amms.items():
        state[f"{symbol} reserves"] = tuple(amm.getReserve())
        state[f"{symbol} net size"] = amm.totalPositionSize()
        state[f"{symbol} market"] = tuple(ch.getMarket(amm))
        state[f"{symbol} premium"] = ch.getLatestCumulativePremiumFraction(amm)
        state[f"{symbol} open interest"] = ch.openInterestNotional(amm)
        state[f"{symbol} open"] = amm.open()
        state[f"{symbol} ratios"] = (amm.tradeLimitRatio(), amm.fluctuationLimitRatio(), amm.tollRatio(), amm.spreadRatio())
        state[f"{symbol} settlement"] = tuple(ch.getSettlement(amm))
        for holder in holders:
            state[f"{symbol} position {holder}"] = tuple(ch.getPosition(amm, holder))
            state[f"{symbol} settlement claim {holder}"] = tuple(ch.getSettlementClaim(amm, holder))
    return state


def assert_unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    changed = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
    assert not changed, f"a rejected call changed state: {changed}"


def position_changed(tx: Any) -> dict[str, Any]:
    """The single PositionChanged event of `tx`, as a dict."""
    events = tx.events["PositionChanged"]
    assert len(events) == 1
    return dict(events[0])


def expected_position_changed(trader: Any, amm: Any, out: Outcome, funding: int = 0) -> dict[str, Any]:
    """The PositionChanged event a trade (not a liquidation) with outcome `out` must emit."""
    return {
        "trader": trader,
        "amm": amm,
        "margin": out.position.margin,
        "positionNotional": out.exchanged_quote,
        "exchangedPositionSize": out.exchanged_size,
        "fee": out.fee,
        "positionSizeAfter": out.position.size,
        "realizedPnl": out.realized_pnl,
        "unrealizedPnlAfter": out.unrealized_pnl_after,
        "badDebt": 0,
        "liquidationPenalty": 0,
        "spotPrice": out.spot_after,
        "fundingPayment": funding,
    }


def addr(account: Any) -> str:
    """An address as brownie renders it inside a decoded custom error (lower-case hex)."""
    return str(account).lower()


def in_one_block(sends: list[Callable[[dict[str, Any]], Any]]) -> list[Any]:
    """Mine every `send(tx_params)` into one block, in the given order; returns the receipts.

    Automine is switched off while the transactions are queued (each with a fixed gas limit, so nothing is
    estimated against the pending state, and a descending gas price, so the block keeps their order), then
    one block is mined. A receipt's `status` is 0 when that transaction reverted; `revert_msg` names why.
    """
    from brownie import web3

    web3.provider.make_request("evm_setAutomine", [False])
    try:
        txs = [
            send({"required_confs": 0, "gas_limit": 3_000_000, "allow_revert": True, "gas_price": len(sends) - i})
            for i, send in enumerate(sends)
        ]
        web3.provider.make_request("evm_mine", [])
    finally:
        web3.provider.make_request("evm_setAutomine", [True])
    for tx in txs:
        tx.wait(1)
    assert len({tx.block_number for tx in txs}) == 1, "the transactions did not land in one block"
    assert [tx.txindex for tx in txs] == list(range(len(txs))), "the block did not keep the order"
    return txs


@contextmanager
def frozen_clock() -> Iterator[None]:
    """Every block mined inside gets the previous block's timestamp (several blocks in one second, as on
    anvil when transactions come fast, or on L2s)."""
    from brownie import web3

    web3.provider.make_request("anvil_setBlockTimestampInterval", [0])
    try:
        yield
    finally:
        web3.provider.make_request("anvil_removeBlockTimestampInterval", [])


def next_second() -> None:
    """Make the next block's timestamp later than the latest one's (anvil gives blocks mined within one
    wall-clock second the same timestamp)."""
    from brownie import chain

    chain.sleep(1)
