"""The seed's story, on a local chain: Alice goes long, Bob goes short, the index moves, funding is paid,
Carol liquidates Dave, everyone closes and withdraws, and every token is accounted for.

Run with `make demo` (or `brownie run scripts/alice_bob.py`).
"""

from __future__ import annotations

import warnings
from typing import Any

from brownie import accounts, chain

from perp_ops import anvil_race
from perp_ops.deploy import Deployment, deploy_protocol, to_aggregator_answer

WAD = 10**18
BUY, SELL = 0, 1
SPOT = 0

STORY_CONFIG: dict[str, Any] = {
    "quote_decimals": 6,  # a USDC-like token
    "init_margin_ratio": 10 * 10**16,  # 10x max leverage
    "maintenance_margin_ratio": 625 * 10**14,  # 6.25 %
    "liquidation_fee_ratio": 125 * 10**14,  # 1.25 %
    "partial_liquidation_ratio": 0,
    "quote_asset_reserve": 300_000 * WAD,  # ETH at 3,000 with 100 ETH of virtual depth
    "base_asset_reserve": 100 * WAD,
    "index_price": 3_000 * WAD,
    "spread_ratio": 1 * 10**15,  # 0.1 % to the insurance fund
}


def units(x: int, decimals: int = 18) -> str:
    return f"{x / 10**decimals:,.4f}"


class Story:
    def __init__(self, d: Deployment, cast: dict[str, Any]) -> None:
        self.d = d
        self.cast = cast
        self.scale = 10 ** d.quote_token.decimals()
        self.deposited: dict[str, int] = dict.fromkeys(cast, 0)
        self.withdrawn: dict[str, int] = dict.fromkeys(cast, 0)
        self.step_no = 0

    # ------------------------------------------------------------------------------------- actions
    def deposit(self, name: str, amount: int) -> None:
        who = self.cast[name]
        raw = amount * self.scale
        self.d.quote_token.mint(who, raw, {"from": who}, silent=True)
        self.d.quote_token.approve(self.d.vault, raw, {"from": who}, silent=True)
        self.d.vault.deposit(raw, {"from": who}, silent=True)
        self.deposited[name] += raw

    def trade(self, name: str, side: int, margin: int, leverage: int) -> Any:
        tx = self.d.clearing_house.openPosition(
            self.d.amm, side, margin * WAD, leverage * WAD, 0, {"from": self.cast[name]}, silent=True
        )
        return tx

    def close(self, name: str) -> Any:
        return self.d.clearing_house.closePosition(self.d.amm, 0, {"from": self.cast[name]}, silent=True)

    def withdraw_all(self, name: str) -> None:
        who = self.cast[name]
        amount = self.d.vault.balanceOf(who)
        if amount:
            self.d.vault.withdraw(amount, {"from": who}, silent=True)
            self.withdrawn[name] += amount

    def set_index(self, price: int) -> None:
        self.d.aggregators["ETH"].updateAnswer(to_aggregator_answer(price * WAD), {"from": self.d.owner}, silent=True)

    def funding_paid(self, *names: str) -> None:
        """Prints the funding each trader owes since their last trade (positive: the trader pays)."""
        ch, amm = self.d.clearing_house, self.d.amm
        funding = ch.getFunding(amm)
        for name in names:
            size, _, _, last = ch.getPosition(amm, self.cast[name])
            latest = funding[0] if size > 0 else funding[1]  # each side reads its own cumulative
            owed = (latest - last) * size // WAD
            verb = "pays" if owed > 0 else "receives"
            print(f"  {name} {verb} {units(abs(owed))} in funding (settled at the next action)")

    # --------------------------------------------------------------------------------------- tables
    def show(self, title: str) -> None:
        self.step_no += 1
        d, amm, ch = self.d, self.d.amm, self.d.clearing_house
        q, b = amm.getReserve()
        print(f"\n=== {self.step_no}. {title}")
        print(
            f"reserves {units(q)} quote / {units(b)} base   mark {units(amm.getSpotPrice())}   "
            f"index {units(amm.getUnderlyingPrice())}   insurance fund {units(d.insurance_fund.fundBalance())}"
        )
        header = f"{'trader':<7}{'size':>12}{'margin':>12}{'open notional':>15}{'unrealized':>12}{'margin ratio':>14}{'vault':>13}"
        print(header)
        print("-" * len(header))
        for name, who in self.cast.items():
            size, margin, open_notional, _ = ch.getPosition(amm, who)
            vault = units(d.vault.balanceOf(who), d.quote_token.decimals())
            if size == 0:
                print(f"{name:<7}{'-':>12}{'-':>12}{'-':>15}{'-':>12}{'-':>14}{vault:>13}")
                continue
            _, pnl = ch.getPositionNotionalAndUnrealizedPnl(amm, who, SPOT)
            ratio = ch.getMarginRatio(amm, who)
            print(
                f"{name:<7}{units(size):>12}{units(margin):>12}{units(open_notional):>15}{units(pnl):>12}"
                f"{ratio / WAD:>13.2%} {vault:>13}"
            )

    def reconcile(self) -> bool:
        d = self.d
        dec = d.quote_token.decimals()
        print("\n=== reconciliation (token units)")
        print(f"{'account':<16}{'deposited':>14}{'withdrawn':>14}{'net':>14}")
        for name in self.cast:
            net = self.withdrawn[name] - self.deposited[name]
            print(f"{name:<16}{units(self.deposited[name], dec):>14}{units(self.withdrawn[name], dec):>14}{units(net, dec):>14}")
        vault_tokens = d.quote_token.balanceOf(d.vault)
        fund = d.insurance_fund.fundBalance()
        _, collateral, _ = d.clearing_house.getMarket(d.amm)
        free = sum(d.vault.balanceOfWad(w) for w in self.cast.values())
        owed = free + fund + collateral
        traders_net = sum(self.withdrawn[n] - self.deposited[n] for n in self.cast)
        print(f"{'insurance fund':<16}{'':>14}{'':>14}{units(fund):>14}")
        print(f"vault holds {units(vault_tokens, dec)} tokens; owes {units(owed)} "
              f"(free balances {units(free)} + insurance fund {units(fund)} + market collateral {units(collateral)})")
        print(f"traders' net {units(traders_net, dec)} + insurance fund {units(fund)} = "
              f"{units(traders_net * 10 ** (18 - dec) + fund)} (zero-sum up to sub-unit dust)")
        ok = vault_tokens * d.vault.scale() >= owed
        print("vault covers everything it owes:", "yes" if ok else "NO")
        return ok


def main() -> bool:
    """Plays the story; returns whether the final reconciliation holds (it exits non-zero otherwise)."""
    anvil_race.install()
    warnings.filterwarnings("ignore", category=FutureWarning)
    d = deploy_protocol(STORY_CONFIG)
    cast = {"alice": accounts[1], "bob": accounts[2], "carol": accounts[3], "dave": accounts[4]}
    s = Story(d, cast)
    gas: list[tuple[str, int]] = []

    s.show("market opens: ETH at 3,000, 100 ETH of virtual depth")
    s.deposit("alice", 100)
    gas.append(("openPosition (new long)", s.trade("alice", BUY, 99, 10).gas_used))
    s.show("Alice deposits 100 and goes long 10x with 99 (0.1 % spread fee: 0.99)")
    s.deposit("bob", 100)
    gas.append(("openPosition (new short)", s.trade("bob", SELL, 99, 10).gas_used))
    s.show("Bob deposits 100 and goes short 10x with 99")

    s.set_index(3_060)
    s.deposit("carol", 2_000)
    s.trade("carol", BUY, 200, 5)
    s.show("the index rises 2 %; Carol buys 1,000 of ETH and lifts the mark: Alice gains, Bob loses")

    s.set_index(2_970)
    chain.sleep(3_600)
    tx = d.clearing_house.payFunding(d.amm, {"from": cast["carol"]}, silent=True)
    gas.append(("payFunding", tx.gas_used))
    rate = tx.events["FundingRateUpdated"]["rate"]
    s.show(f"the index falls back to 2,970, below the mark for an hour: funding rate {rate / WAD:+.4%}, longs pay shorts")
    s.funding_paid("alice", "bob")

    s.set_index(3_080)
    chain.sleep(3_600)
    tx = d.clearing_house.payFunding(d.amm, {"from": cast["carol"]}, silent=True)
    rate = tx.events["FundingRateUpdated"]["rate"]
    s.show(f"the index jumps to 3,080, above the mark for an hour: funding rate {rate / WAD:+.4%}, shorts pay longs")
    s.funding_paid("alice", "bob")

    s.trade("carol", BUY, 300, 10)
    s.deposit("dave", 50)
    s.trade("dave", BUY, 49, 10)
    s.show("Carol buys 3,000 more; Dave deposits 50 and goes long 10x with 49 at the top")

    s.set_index(2_900)
    s.close("carol")
    s.trade("carol", SELL, 300, 10)
    chain.sleep(900)
    chain.mine()
    s.show("the index drops to 2,900; Carol sells everything and 3,000 more; 15 minutes pass: Dave is under water")
    tx = d.clearing_house.liquidate(d.amm, cast["dave"], {"from": cast["carol"]}, silent=True)
    gas.append(("liquidate", tx.gas_used))
    fee = tx.events["PositionLiquidated"]["liquidationFee"]
    s.show(f"Carol liquidates Dave and earns {units(fee)} in her vault balance")

    for name in ("alice", "bob", "carol"):
        tx = s.close(name)
        if name == "alice":
            gas.append(("closePosition", tx.gas_used))
        chain.mine()
    for name in cast:
        s.withdraw_all(name)
    s.show("everyone closes and withdraws")
    ok = s.reconcile()

    print("\n=== gas per operation")
    for op, used in gas:
        print(f"{op:<28}{used:>10,}")
    if not ok:
        raise SystemExit("the vault does not cover what it owes")
    return ok
