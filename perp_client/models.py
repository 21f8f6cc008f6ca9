"""Typed snapshots of markets, positions, quotes and events (all amounts wad ints, exactly as on chain)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum

from perp_client.units import WAD, fmt_pct, fmt_wad


class Side(IntEnum):
    """IClearingHouse.Side."""

    BUY = 0  # long
    SELL = 1  # short

    @classmethod
    def parse(cls, side: Side | str | int) -> Side:
        if isinstance(side, Side):
            return side
        if isinstance(side, int):
            return cls(side)
        names = {"buy": cls.BUY, "long": cls.BUY, "sell": cls.SELL, "short": cls.SELL}
        try:
            return names[side.lower()]
        except KeyError:
            raise ValueError(f"unknown side {side!r}: use 'long' or 'short'") from None


def _table(title: str, rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join([title, *(f"  {k:<{width}}  {v}" for k, v in rows)])


def _time(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Market:
    """One market (Amm) read at one block."""

    symbol: str
    address: str
    open: bool
    quote_reserve: int
    base_reserve: int
    mark_price: int  # spot quote / base
    index_price: int  # oracle
    twap_price: int  # 15-minute mark TWAP
    funding_rate: int  # last settled, per period
    funding_period: int  # seconds
    next_funding_time: int  # unix seconds
    total_position_size: int  # traders' net base position, long positive
    toll_ratio: int
    spread_ratio: int
    trade_limit_ratio: int
    block_timestamp: int
    funding: FundingState | None = None  # the ClearingHouse's funding ledger for the market
    last_shortfall: FundingShortfall | None = None  # the latest in the lookback (`PerpClient.market`)

    @property
    def premium(self) -> int:
        """(mark − index) / index, wad."""
        return (self.mark_price - self.index_price) * WAD // self.index_price if self.index_price else 0

    @property
    def open_interest_notional(self) -> int:
        """|net position| × mark (wad)."""
        return abs(self.total_position_size) * self.mark_price // WAD

    @property
    def funding_due(self) -> bool:
        return self.open and self.block_timestamp >= self.next_funding_time

    def table(self) -> str:
        net = self.total_position_size
        side = "long" if net > 0 else "short" if net < 0 else "flat"
        due = "due now" if self.funding_due else f"in {self.next_funding_time - self.block_timestamp} s"
        f = self.funding
        rows = [
            ("reserves", f"{fmt_wad(self.quote_reserve, 2)} quote / {fmt_wad(self.base_reserve, 4)} base"),
            ("mark price", fmt_wad(self.mark_price)),
            ("index price", fmt_wad(self.index_price)),
            ("mark TWAP 15m", fmt_wad(self.twap_price)),
            ("premium", fmt_pct(self.premium, 3)),
            ("funding rate", f"{fmt_pct(self.funding_rate, 4)} per {self.funding_period} s (last settled)"),
            ("next funding", f"{_time(self.next_funding_time)} ({due})"),
            ("open interest", f"{fmt_wad(abs(net))} base net {side} ≈ {fmt_wad(self.open_interest_notional, 2)} quote"),
            ("fees", f"toll {fmt_pct(self.toll_ratio, 3)}, spread {fmt_pct(self.spread_ratio, 3)}"),
        ]
        if f is not None and f.receivers_cut:
            rows.append(("receivers paid less", f.receivers_cut_text()))
        if self.last_shortfall is not None:
            rows.append(("last shortfall", self.last_shortfall.text()))
        return _table(f"market {self.symbol} ({self.address}){'' if self.open else '  [CLOSED]'}", rows)


@dataclass(frozen=True)
class FundingState:
    """IClearingHouse.getFunding: both sides' cumulative premium fractions and open sizes (wad)."""

    cumulative_long: int
    cumulative_short: int
    long_size: int
    short_size: int

    def cumulative(self, size: int) -> int:
        """What a position of `size` reads (its own side's)."""
        return self.cumulative_long if size > 0 else self.cumulative_short

    def payment(self, size: int, last_cumulative: int) -> int:
        """The funding a position owes now (positive: it pays), truncated toward zero as the ClearingHouse does."""
        if size == 0:
            return 0
        product = (self.cumulative(size) - last_cumulative) * size
        return abs(product) // WAD * (1 if product >= 0 else -1)

    @property
    def receivers_cut(self) -> int:
        """How much less, per unit of size, the receiving sides have been paid since the market was listed (wad;
        0: never): the two cumulatives differ only by what the InsuranceFund could not pay."""
        return abs(self.cumulative_long - self.cumulative_short)

    def receivers_cut_text(self) -> str:
        return (f"{fmt_wad(self.receivers_cut, 6)} quote per unit of size since listing (the InsuranceFund could not "
                "pay the pool's side)")


@dataclass(frozen=True)
class FundingShortfall:
    """IClearingHouse.FundingShortfall: receivers were paid less (wad)."""

    amm: str
    owed_to_receivers: int  # the pool's side of the imbalance
    paid: int  # what the InsuranceFund paid of it
    block_number: int
    tx_hash: str

    @property
    def not_paid(self) -> int:
        return self.owed_to_receivers - self.paid

    def text(self) -> str:
        return (f"block {self.block_number}: receivers got {fmt_wad(self.not_paid)} less (the fund owed "
                f"{fmt_wad(self.owed_to_receivers)}, paid {fmt_wad(self.paid)})")


@dataclass(frozen=True)
class Position:
    """A trader's position in one market, valued at one block."""

    symbol: str
    trader: str
    size: int
    margin: int
    open_notional: int
    last_cumulative_premium_fraction: int
    position_notional: int  # spot: what closing now returns
    unrealized_pnl: int  # spot
    funding_payment: int  # owed now (positive: the trader pays)
    margin_ratio: int | None  # the contract's getMarginRatio; None without a position
    free_collateral: int
    liquidation_price: int | None
    vault_balance: int  # free balance in the vault (wad)

    @property
    def side(self) -> str:
        return "long" if self.size > 0 else "short" if self.size < 0 else "none"

    @property
    def entry_price(self) -> int | None:
        return self.open_notional * WAD // abs(self.size) if self.size else None

    def table(self) -> str:
        return _table(
            f"position {self.symbol} of {self.trader}",
            [
                ("side", self.side),
                ("size", f"{fmt_wad(self.size, 6)} base"),
                ("margin", fmt_wad(self.margin)),
                ("open notional", fmt_wad(self.open_notional)),
                ("entry price", fmt_wad(self.entry_price)),
                ("position notional", fmt_wad(self.position_notional)),
                ("unrealized PnL", fmt_wad(self.unrealized_pnl)),
                ("funding owed", fmt_wad(self.funding_payment)),
                ("margin ratio", fmt_pct(self.margin_ratio)),
                ("liquidation price", fmt_wad(self.liquidation_price)),
                ("free collateral", fmt_wad(self.free_collateral)),
                ("vault balance", fmt_wad(self.vault_balance)),
            ],
        )


@dataclass(frozen=True)
class Quote:
    """What `openPosition(side, margin, leverage)` would do now, if nobody trades first."""

    symbol: str
    side: Side
    margin: int
    leverage: int
    notional: int  # margin × leverage
    exchanged_base: int  # signed, long positive
    average_price: int  # exchanged quote / |exchanged base|
    price_impact: int  # (spot after − spot before) / spot before, signed
    fee: int  # toll + spread
    spot_before: int
    spot_after: int
    size_after: int
    margin_after: int
    open_notional_after: int
    margin_ratio_after: int | None  # spot margin ratio after the trade
    liquidation_price: int | None
    cash_required: int  # taken from the vault balance (margin in + fee); negative when cash comes back
    realized_pnl: int

    def table(self) -> str:
        return _table(
            f"quote {'long' if self.side == Side.BUY else 'short'} {self.symbol}: margin {fmt_wad(self.margin, 2)} at {fmt_wad(self.leverage, 2)}x",
            [
                ("notional", fmt_wad(self.notional)),
                ("base", fmt_wad(self.exchanged_base, 6)),
                ("average price", fmt_wad(self.average_price)),
                ("price impact", fmt_pct(self.price_impact, 3)),
                ("fee", fmt_wad(self.fee)),
                ("mark after", fmt_wad(self.spot_after)),
                ("size after", fmt_wad(self.size_after, 6)),
                ("margin ratio after", fmt_pct(self.margin_ratio_after)),
                ("liquidation price", fmt_wad(self.liquidation_price)),
                ("cash from vault", fmt_wad(self.cash_required)),
            ],
        )


@dataclass(frozen=True)
class PositionChanged:
    """IClearingHouse.PositionChanged (wad amounts)."""

    trader: str
    amm: str
    margin: int
    position_notional: int
    exchanged_position_size: int
    fee: int
    position_size_after: int
    realized_pnl: int
    unrealized_pnl_after: int
    bad_debt: int
    liquidation_penalty: int
    spot_price: int
    funding_payment: int
    block_number: int
    tx_hash: str


@dataclass(frozen=True)
class PositionLiquidated:
    """IClearingHouse.PositionLiquidated (wad amounts)."""

    trader: str
    amm: str
    position_notional: int
    position_size: int
    liquidation_fee: int
    liquidator: str
    bad_debt: int
    block_number: int
    tx_hash: str


@dataclass(frozen=True)
class TxResult:
    """A mined transaction and the protocol events it emitted."""

    tx_hash: str
    block_number: int
    gas_used: int
    events: tuple[PositionChanged | PositionLiquidated, ...] = ()
