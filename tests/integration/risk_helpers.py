"""Helpers for the risk-engine tests (funding, liquidation, restriction mode, shutdown).

Expected numbers are derived here from Perpetual Protocol v1's final release (read, never copied): its
`Decimal`/`SignedDecimal` rounding (truncation toward zero), its pool rounding, its reserve-snapshot mark TWAP
walk (`Amm.calcTwap`) and its Chainlink round walk (`ChainlinkPriceFeed.getTwapPrice`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from brownie import web3

from tests.model.protocol_model import IndexFeed, snapshot_twap
from tests.trading import div, output_price, spot_price, tdiv

WAD = 10**18
ONE_DAY = 86_400
ONE_HOUR = 3_600
AGGREGATOR_DECIMALS = 8


def position_value(size: int, q: int, b: int) -> int:
    """Spot notional of a position: what closing it would exchange (v1's getOutputPrice)."""
    return output_price(size > 0, abs(size), q, b)


def unrealized_pnl(size: int, open_notional: int, notional: int) -> int:
    return notional - open_notional if size > 0 else open_notional - notional


def margin_ratio(margin: int, pnl: int, funding: int, notional: int) -> int:
    """v1's _getMarginRatio: (margin + pnl - funding) / notional (the bad-debt branch gives the same number)."""
    return div(margin + pnl - funding, notional)


# ------------------------------------------------------------------------------------------------ TWAPs
@dataclass
class MarkHistory:
    """v1's reserve snapshots: one per block that moved the pool, holding the reserves after that block.
    The first is the pool's initial reserves at its deployment."""

    snapshots: list[tuple[int, int, int]] = field(default_factory=list)  # (timestamp, quote, base)
    blocks: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, amm: Any, q0: int, b0: int) -> MarkHistory:
        receipt = web3.eth.get_transaction_receipt(amm.tx.txid)
        ts = web3.eth.get_block(receipt.blockNumber).timestamp
        return cls([(ts, q0, b0)], [receipt.blockNumber])

    def record(self, amm: Any, block_number: int) -> None:
        """Record the pool after the block `block_number` (call right after the block is mined)."""
        ts = web3.eth.get_block(block_number).timestamp
        q, b = amm.getReserve()
        if self.blocks[-1] == block_number:
            self.snapshots[-1] = (ts, q, b)
        else:
            self.snapshots.append((ts, q, b))
            self.blocks.append(block_number)

    def twap(self, now: int, interval: int) -> int:
        """v1's Amm.calcTwap over reserve prices (getTwapPrice)."""
        return self._walk(spot_price, now, interval)

    def output_twap(self, size: int, now: int, interval: int = 900) -> int:
        """v1's Amm.getOutputTwap: the same walk over the quote a position of `size` would exchange."""
        return self._walk(lambda q, b: output_price(size > 0, abs(size), q, b), now, interval)

    def _walk(self, value: Callable[[int, int], int], now: int, interval: int) -> int:
        return snapshot_twap([(ts, value(q, b)) for ts, q, b in self.snapshots], interval, now)


def aggregator_rounds(aggregator: Any) -> list[tuple[int, int]]:
    """Every round of a mock aggregator, oldest first: (updatedAt, answer)."""
    latest = aggregator.latestRound()
    rounds = []
    for rid in range(1, latest + 1):
        _, answer, _, updated_at, _ = aggregator.getRoundData(rid)
        rounds.append((updated_at, answer))
    return rounds


def index_twap(rounds: list[tuple[int, int]], now: int, interval: int, decimals: int = AGGREGATOR_DECIMALS) -> int:
    """v1's ChainlinkPriceFeed.getTwapPrice (the model's `IndexFeed.twap`); `rounds[0]` plays v1's round 0 (the walk
    stops there). The average is truncated in the feed's decimals, then scaled to 18 decimals."""
    return IndexFeed(decimals=decimals, rounds=list(rounds)).twap(interval, now)


@dataclass(frozen=True)
class Funding:
    mark_twap: int
    index_twap: int
    premium_fraction: int
    rate: int


def expected_funding(mark: int, index: int, period: int, max_rate: int = 0) -> Funding:
    """v1's settleFunding (plus this protocol's optional clamp of the premium fraction)."""
    premium_fraction = tdiv((mark - index) * period, ONE_DAY)
    if max_rate:
        cap = index * max_rate // WAD
        premium_fraction = max(-cap, min(cap, premium_fraction))
    return Funding(mark, index, premium_fraction, div(premium_fraction, index))


def next_funding_after_settlement(previous_next: int, now: int, period: int) -> int:
    on_hour = (previous_next + period) // ONE_HOUR * ONE_HOUR
    return max(on_hour, now + period // 2)


def next_funding_on_open(opened_at: int, period: int) -> int:
    return (opened_at + period) // ONE_HOUR * ONE_HOUR


# ------------------------------------------------------------------------------------------------ chain
def at(ts: int) -> None:
    """The next block gets timestamp `ts` (anvil)."""
    res = web3.provider.make_request("evm_setNextBlockTimestamp", [int(ts)])
    assert "error" not in res, res


def join_confirmations(timeout: float = 10.0) -> None:
    """Wait for brownie's background confirmation threads (transactions sent with `required_confs=0`), so that
    none of them polls the node after the test (or the node) is gone."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and "_await_confirmation" in thread.name:
            thread.join(timeout)


def latest_ts() -> int:
    return web3.eth.get_block("latest").timestamp


def set_index(aggregator: Any, price_wad: int, sender: Any) -> Any:
    return aggregator.updateAnswer(price_wad * 10**AGGREGATOR_DECIMALS // WAD, {"from": sender})


def event(tx: Any, name: str, index: int = 0) -> dict[str, Any]:
    return dict(tx.events[name][index])


# ------------------------------------------------------------------------------------------------ accounting
def owed_to_everyone(d: Any, holders: Iterable[Any]) -> int:
    """Σ free balances of `holders` + the InsuranceFund + Σ every market's booked collateral, in wad."""
    free = sum(d.vault.balanceOfWad(h) for h in holders)
    fund = d.vault.balanceOfWad(d.insurance_fund)
    collateral = sum(d.clearing_house.getMarket(a)[1] for a in d.amms.values())
    return free + fund + collateral


def vault_assets(d: Any) -> int:
    return d.quote_token.balanceOf(d.vault) * d.vault.scale()


def assert_reconciles(d: Any, holders: Iterable[Any], exact: bool) -> None:
    """The Vault's tokens cover everything it owes; to the wei when `exact` (nothing left in positions)."""
    holders = list(holders)
    assets, owed = vault_assets(d), owed_to_everyone(d, holders)
    if exact:
        assert assets == owed, f"vault holds {assets}, owes {owed} (difference {assets - owed})"
    else:
        assert assets >= owed, f"vault holds {assets}, owes {owed} (short by {owed - assets})"
