"""Settlement after a shutdown, computed independently of the contracts (README "Settlement", docs/security.md I4):

- a position's value = margin + size × (settlementPrice − openNotional / |size|) − the funding owed, floored at 0
  (v1's PnL formula and rounding; margin − funding when the settlement price is 0);
- in the claim window each `settlePosition` registers that value as a claim (a value of 0 settles at once);
- once the window has closed, the first payout fixes `available`: the market's collateral, topped up by the
  InsuranceFund when the claims exceed it, at most the claims; every registered claim is paid
  `claim × available / totalClaims` rounded down (in full when `available` covers them), and the last payout
  sends the rounding dust to the fund.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from brownie import chain, web3

from tests.helpers import reverts_with
from tests.trading import div, mul


def position_value(size: int, margin: int, open_notional: int, last_cumulative: int, cumulative: int, price: int) -> int:
    """What `settlePosition` registers for a position (wad)."""
    value = margin - mul(cumulative - last_cumulative, size)
    if price != 0:
        value += mul(size, price - div(open_notional, abs(size)))
    return max(value, 0)


def value_of(d: Any, amm: Any, trader: Any) -> int:
    ch = d.clearing_house
    size, margin, open_notional, last = ch.getPosition(amm, trader)
    return position_value(size, margin, open_notional, last, ch.getLatestCumulativePremiumFraction(amm),
                          amm.getSettlementPrice())


def v1_value(d: Any, amm: Any, trader: Any) -> int:
    """v1's settlement value: the same without the funding owed."""
    size, margin, open_notional, _ = d.clearing_house.getPosition(amm, trader)
    return position_value(size, margin, open_notional, 0, 0, amm.getSettlementPrice())


def claim_of(ch: Any, amm: Any, trader: Any) -> tuple[int, int]:
    """(claim, payout) of `trader`, as ints."""
    claim, payout = ch.getSettlementClaim(amm, trader)
    return int(claim), int(payout)


def settlement_of(ch: Any, amm: Any) -> tuple[Any, ...]:
    """(windowEnd, totalClaims, available, paid, unpaidClaims, finalized), as ints and a bool."""
    *numbers, finalized = ch.getSettlement(amm)
    return (*(int(n) for n in numbers), bool(finalized))


@dataclass(frozen=True)
class Book:
    total: int  # registered claims, wad
    collateral: int  # the market's collateral when the window closes
    from_fund: int  # what the InsuranceFund pays in at finalization
    available: int  # what the registered claims share

    def share(self, claim: int) -> int:
        return claim if self.available == self.total else claim * self.available // self.total

    @classmethod
    def expected(cls, total: int, collateral: int, fund_balance: int) -> Book:
        from_fund = min(fund_balance, total - collateral) if total > collateral else 0
        return cls(total, collateral, from_fund, min(collateral + from_fund, total))


def register(d: Any, amm: Any, traders: list[Any]) -> dict[Any, int]:
    """Each trader, in this order, registers its claim in the window (the position goes, nothing is credited);
    settling again in the window is refused. Returns the claims (0: settled at once, nothing to claim)."""
    ch, vault = d.clearing_house, d.vault
    end = amm.settlementWindowEnd()
    claims: dict[Any, int] = {}
    for trader in traders:
        value = value_of(d, amm, trader)
        free = vault.balanceOfWad(trader)
        total = ch.getSettlement(amm)[1]
        tx = ch.settlePosition(amm, {"from": trader})
        assert tx.timestamp < end
        assert tuple(ch.getPosition(amm, trader)) == (0, 0, 0, 0)
        assert vault.balanceOfWad(trader) == free
        if value == 0:
            assert dict(tx.events["PositionSettled"][0]) == {"amm": amm.address, "trader": trader.address, "valueTransferred": 0}
            assert "SettlementClaimed" not in tx.events
            with reverts_with("NoPosition"):
                ch.settlePosition(amm, {"from": trader})
        else:
            assert dict(tx.events["SettlementClaimed"][0]) == {
                "amm": amm.address, "trader": trader.address, "value": value, "windowEnd": end}
            assert "PositionSettled" not in tx.events
            assert claim_of(ch, amm, trader)[0] == value
            assert ch.getSettlement(amm)[1] == total + value
            with reverts_with("SettlementWindowOpen", end):
                ch.settlePosition(amm, {"from": trader})
            with reverts_with("SettlementWindowOpen", end):
                ch.claimSettlement(amm, trader, {"from": trader})
        claims[trader] = value
    return claims


def close_window(amm: Any) -> None:
    """The next block is the first after the claim window."""
    res = web3.provider.make_request("evm_setNextBlockTimestamp", [max(amm.settlementWindowEnd(), chain[-1].timestamp + 1)])
    assert "error" not in res, res
    chain.mine()


def pay(d: Any, amm: Any, claims: dict[Any, int], order: list[Any]) -> tuple[dict[Any, int], Book, int]:
    """After the window: each registered claim is paid, in `order`, its exact share; the first payout finalizes
    (the fund tops the market up when short), the last sweeps the dust to the fund. Returns the payouts, the
    book and the dust."""
    ch, vault, fund = d.clearing_house, d.vault, d.insurance_fund
    registered = [t for t in order if claims.get(t)]
    total = sum(claims.values())
    assert ch.getSettlement(amm)[1] == total
    book = Book.expected(total, ch.getMarket(amm)[1], vault.balanceOfWad(fund))
    assert settlement_of(ch, amm)[1:] == (total, book.available, 0, len(registered), False)
    paid: dict[Any, int] = {}
    dust = 0
    for i, trader in enumerate(registered):
        free, fund_before = vault.balanceOfWad(trader), vault.balanceOfWad(fund)
        collateral = ch.getMarket(amm)[1]
        assert claim_of(ch, amm, trader) == (claims[trader], book.share(claims[trader]))
        tx = ch.settlePosition(amm, {"from": trader}) if i % 2 == 0 else ch.claimSettlement(amm, trader, {"from": order[-1]})
        share = book.share(claims[trader])
        assert dict(tx.events["PositionSettled"][0]) == {"amm": amm.address, "trader": trader.address, "valueTransferred": share}
        assert vault.balanceOfWad(trader) - free == share
        fund_delta = vault.balanceOfWad(fund) - fund_before
        if i == 0:
            assert dict(tx.events["SettlementFinalized"][0]) == {
                "amm": amm.address, "totalClaims": total, "available": book.available, "fromInsuranceFund": book.from_fund}
            fund_delta += book.from_fund
            collateral += book.from_fund
        else:
            assert "SettlementFinalized" not in tx.events
        if i == len(registered) - 1:
            dust = book.available - sum(paid.values()) - share
            assert dust >= 0
            if dust:
                assert dict(tx.events["SettlementDustSwept"][0]) == {"amm": amm.address, "dust": dust}
            else:
                assert "SettlementDustSwept" not in tx.events
        assert fund_delta == dust if i == len(registered) - 1 else fund_delta == 0
        assert ch.getMarket(amm)[1] == collateral - share - (dust if i == len(registered) - 1 else 0)
        assert claim_of(ch, amm, trader) == (0, 0)
        with reverts_with("NoPosition"):
            ch.settlePosition(amm, {"from": trader})
        with reverts_with("NothingToSettle"):
            ch.claimSettlement(amm, trader, {"from": trader})
        paid[trader] = share
    # exact to the wei: what the claims shared is what they were paid plus the dust the fund received
    assert sum(paid.values()) + dust == book.available
    assert settlement_of(ch, amm)[1:] == (total, book.available, sum(paid.values()), 0, bool(registered))
    return paid, book, dust


def settle_all(d: Any, amm: Any, traders: list[Any], payout_order: list[Any] | None = None) -> dict[Any, int]:
    """Register everyone in the window (in `traders`' order), close it, pay everyone (in `payout_order`)."""
    claims = register(d, amm, traders)
    close_window(amm)
    paid, _, _ = pay(d, amm, claims, payout_order or traders)
    return {t: paid.get(t, 0) for t in traders}
