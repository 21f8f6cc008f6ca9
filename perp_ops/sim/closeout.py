"""The end of a scenario: everyone leaves, and each gets exactly what the chain says they are owed.

Before each participant acts, what they are owed is computed from on-chain views:
- open market: free vault balance + margin + PnL (closing at the pool) − funding − the closing fee;
- shut-down market: every position first registers its settlement claim in the claim window (margin + PnL at
  the settlement price − funding, floored at 0), in the seeded order; once the window has closed, free balance +
  the claim's share (`getSettlementClaim`: in full when the market and the fund cover every claim, else pro
  rata, whatever the order);
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
    unpaid: int = 0  # wad: the part of the settlement claim the market (and the fund) could not cover, pro rata
    claim: int = 0  # wad: the settlement claim registered in the window

    @property
    def exact(self) -> bool:
        """Credited exactly what was predicted, and withdrew all of it, rounded down to the token unit."""
        return self.credited == self.owed and self.received == self.owed // self.scale


def owed_on_close(m: Market, who: Any) -> int | None:
    """free + margin + PnL − funding − fee, or None when closing would leave bad debt (it would revert)."""
    ch, amm = m.d.clearing_house, m.amm
    size, margin, _, last = ch.getPosition(amm, who)
    notional, pnl = ch.getPositionNotionalAndUnrealizedPnl(amm, who, SPOT)
    cumulative_long, cumulative_short, _, _ = ch.getFunding(amm)  # each side reads its own
    funding = mul_wad((cumulative_long if size > 0 else cumulative_short) - last, size)
    fee = mul_wad(notional, amm.tollRatio()) + mul_wad(notional, amm.spreadRatio())
    remain = margin + pnl - funding
    free = m.d.vault.balanceOfWad(who)
    if remain < 0 or free + remain < fee:
        return None
    return free + remain - fee


def register_claims(m: Market, order: list[Any]) -> dict[str, int]:
    """In the claim window, every position in `order` becomes a settlement claim (checked against its value
    computed from the views); then the window closes. Returns the claims by address."""
    ch, amm = m.d.clearing_house, m.amm
    claims: dict[str, int] = {}
    for who in order:
        if not has_position(m, who):
            continue
        holding = Holding(*ch.getPosition(amm, who))
        cumulative = ch.getFunding(amm)[0 if holding.size > 0 else 1]  # each side reads its own
        value = max(settlement_value(holding, amm.getSettlementPrice(), cumulative), 0)
        ch.settlePosition(amm, {"from": who})
        claim = int(ch.getSettlementClaim(amm, who)[0])
        if claim != value:
            raise RuntimeError(f"{who.address}: claim {claim} registered, {value} expected")
        claims[who.address] = claim
    mine_at(int(amm.settlementWindowEnd()))
    return claims


def owed_on_settle(m: Market, who: Any) -> tuple[int, int]:
    """(free + the registered claim's payout, the part of the claim not covered)."""
    claim, payout = m.d.clearing_house.getSettlementClaim(m.amm, who)
    return m.d.vault.balanceOfWad(who) + int(payout), int(claim) - int(payout)


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


def leave(m: Market, who: Any, claims: dict[str, int]) -> tuple[str, int, int]:
    """Close or settle `who`'s position (if any): how, the owed wad predicted from the views, the unpaid."""
    ch, amm = m.d.clearing_house, m.amm
    if claims.get(who.address):
        owed, unpaid = owed_on_settle(m, who)
        ch.settlePosition(amm, {"from": who})
        return "settle", owed, unpaid
    if who.address in claims:
        return "settle", m.d.vault.balanceOfWad(who), 0  # worth nothing: settled when registered
    if not has_position(m, who):
        return "balance", m.d.vault.balanceOfWad(who), 0
    if not amm.isShutdown() and owed_on_close(m, who) is None:
        liquidate_out(m, who)  # may halt the market, if the fund cannot pay the bad debt
        if not has_position(m, who):
            return "liquidated", m.d.vault.balanceOfWad(who), 0
    if amm.isShutdown():  # halted by this liquidation: everyone still holding a position registers now
        claims.update(register_claims(m, [*m.traders, m.arbitrageur, m.liquidator]))
        return leave(m, who, claims)
    owed = owed_on_close(m, who)
    if owed is None:
        raise RuntimeError(f"{who.address} can still not close")
    try:
        ch.closePosition(amm, 0, {"from": who})
    except VirtualMachineError as exc:
        raise RuntimeError(f"close of {who.address} reverted: {exc.revert_msg}") from exc
    return "close", owed, 0


def withdraw_all(m: Market, who: Any, role: str, claims: dict[str, int]) -> Payout:
    how, owed, unpaid = leave(m, who, claims)
    credited = m.d.vault.balanceOfWad(who)
    amount = m.d.vault.balanceOf(who)
    before = m.d.quote_token.balanceOf(who)
    if amount:
        m.d.vault.withdraw(amount, {"from": who})
    received = m.d.quote_token.balanceOf(who) - before
    return Payout(who.address, role, how, owed, credited, received, m.scale, unpaid, claims.get(who.address, 0))


def close_out(m: Market, rng: random.Random) -> list[Payout]:
    """Every trader in a seeded order, then the arbitrageur, then the liquidator keeper (a shut-down market: all
    register their claims in that order first, then are paid in it)."""
    order = list(m.traders)
    rng.shuffle(order)
    everyone = [*order, m.arbitrageur, m.liquidator]
    claims = register_claims(m, everyone) if m.amm.isShutdown() else {}
    payouts = [withdraw_all(m, t, "trader", claims) for t in order]
    payouts.append(withdraw_all(m, m.arbitrageur, "arbitrageur", claims))
    payouts.append(withdraw_all(m, m.liquidator, "liquidator", claims))
    return payouts
