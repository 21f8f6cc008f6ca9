"""The end of a scenario: everyone leaves, and each gets exactly what the chain says they are owed.

Before each participant acts, what they are owed is computed from on-chain views:
- open market: free vault balance + margin + PnL (closing at the pool) − funding − the closing fee;
- shut-down market: free balance + v1's settlement value, floored at 0 and capped by the collateral the
  market still holds (what `settlePosition` pays);
- a position that cannot close without bad debt is left to the liquidator keeper (its 15-minute TWAP given
  time to follow the spot), after which the trader is owed their free balance.
Then they withdraw everything (token units, rounded down: the dust below one unit stays in the vault). A
`Payout` records the prediction, what the vault credited and the tokens received.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from brownie.exceptions import VirtualMachineError

from perp_client.units import mul_wad
from perp_ops.keepers import liquidator
from perp_ops.sim.market import (
    Holding,
    Market,
    latest_timestamp,
    mine_at,
    settlement_value,
)

SPOT = 0
TWAP_WAIT = 15 * 60 + 1
MAX_LIQUIDATION_ROUNDS = 12


@dataclass(frozen=True)
class Payout:
    who: str
    role: str  # trader | arbitrageur | liquidator
    how: str  # close | settle | liquidated | balance
    owed: int  # wad, predicted from the views before acting
    credited: int  # wad, the free balance once the position is gone
    received: int  # token units withdrawn
    scale: int
    unpaid: int = 0  # wad: the settlement value the market's collateral could not cover (first come, first served)

    @property
    def exact(self) -> bool:
        """Credited exactly what was predicted, and withdrew all of it, rounded down to the token unit."""
        return self.credited == self.owed and self.received == self.owed // self.scale


def owed_on_close(m: Market, who: Any) -> int | None:
    """free + margin + PnL − funding − fee, or None when closing would leave bad debt (it would revert)."""
    ch, amm = m.d.clearing_house, m.amm
    size, margin, _, last = ch.getPosition(amm, who)
    notional, pnl = ch.getPositionNotionalAndUnrealizedPnl(amm, who, SPOT)
    funding = mul_wad(ch.getLatestCumulativePremiumFraction(amm) - last, size)
    fee = mul_wad(notional, amm.tollRatio()) + mul_wad(notional, amm.spreadRatio())
    remain = margin + pnl - funding
    free = m.d.vault.balanceOfWad(who)
    if remain < 0 or free + remain < fee:
        return None
    return free + remain - fee


def owed_on_settle(m: Market, who: Any) -> tuple[int, int]:
    """(free + min(max(settlement value, 0), the market's collateral), the part of the value not covered)."""
    ch, amm = m.d.clearing_house, m.amm
    value = max(settlement_value(Holding(*ch.getPosition(amm, who)), amm.getSettlementPrice()), 0)
    paid = min(value, max(ch.getMarket(amm)[1], 0))
    return m.d.vault.balanceOfWad(who) + paid, value - paid


def has_position(m: Market, who: Any) -> bool:
    return m.d.clearing_house.getPosition(m.amm, who)[0] != 0


def liquidate_out(m: Market, who: Any) -> None:
    """Run the liquidator keeper until `who` is flat or can close; give the TWAP time when it cannot act."""
    client = m.clients["liquidator"]
    for _ in range(MAX_LIQUIDATION_ROUNDS):
        if not has_position(m, who) or m.amm.isShutdown() or owed_on_close(m, who) is not None:
            return
        actions = liquidator.run_once(client, m.liquidator_state)
        m.actions += actions
        if not any(who.address in a.detail for a in actions):
            mine_at(latest_timestamp() + TWAP_WAIT)
    raise RuntimeError(f"{who.address} could neither close nor be liquidated")


def leave(m: Market, who: Any) -> tuple[str, int, int]:
    """Close or settle `who`'s position (if any): how, the owed wad predicted from the views, the unpaid."""
    ch, amm = m.d.clearing_house, m.amm
    if not has_position(m, who):
        return "balance", m.d.vault.balanceOfWad(who), 0
    if not amm.isShutdown() and owed_on_close(m, who) is None:
        liquidate_out(m, who)  # may halt the market, if the fund cannot pay the bad debt
        if not has_position(m, who):
            return "liquidated", m.d.vault.balanceOfWad(who), 0
    if amm.isShutdown():
        owed, unpaid = owed_on_settle(m, who)
        ch.settlePosition(amm, {"from": who})
        return "settle", owed, unpaid
    owed = owed_on_close(m, who)
    if owed is None:
        raise RuntimeError(f"{who.address} can still not close")
    try:
        ch.closePosition(amm, 0, {"from": who})
    except VirtualMachineError as exc:
        raise RuntimeError(f"close of {who.address} reverted: {exc.revert_msg}") from exc
    return "close", owed, 0


def withdraw_all(m: Market, who: Any, role: str) -> Payout:
    how, owed, unpaid = leave(m, who)
    credited = m.d.vault.balanceOfWad(who)
    amount = m.d.vault.balanceOf(who)
    before = m.d.quote_token.balanceOf(who)
    if amount:
        m.d.vault.withdraw(amount, {"from": who})
    received = m.d.quote_token.balanceOf(who) - before
    return Payout(who.address, role, how, owed, credited, received, m.scale, unpaid)


def close_out(m: Market, rng: random.Random) -> list[Payout]:
    """Every trader in a seeded order, then the arbitrageur, then the liquidator keeper."""
    order = list(m.traders)
    rng.shuffle(order)
    payouts = [withdraw_all(m, t, "trader") for t in order]
    payouts.append(withdraw_all(m, m.arbitrageur, "arbitrageur"))
    payouts.append(withdraw_all(m, m.liquidator, "liquidator"))
    return payouts
