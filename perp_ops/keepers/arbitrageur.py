"""Arbitrageur: trades a market's mark price toward its index when the expected profit is positive.

For each market it sizes the trade that brings the pool to the index (constant product: target quote
reserve sqrt(k × index)), capped by the trade limit, its vault balance and `--max-margin`, quotes it with
the exact pool math (PerpClient.quote_open) and trades when

    expected profit = edge − fees − closing fee + funding  >  --min-profit

edge: the position valued at the index against what it cost (assumes the arbitrageur hedges at the
index elsewhere: it does not unwind); fees: this trade's toll + spread, the same again to close later;
funding: what the new position would receive (or pay) at the current premium over one funding period,
(markTwap − indexTwap) × period / 1 day per unit of base.

    python -m perp_ops.keepers.arbitrageur [--once] [--leverage 5] [--min-profit 0] [--max-margin 1000]
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from math import isqrt

from perp_client import PerpClient, PerpError, Quote, Side
from perp_client.units import WAD, div_wad, fmt_pct, fmt_wad, from_wad, mul_wad, to_wad
from perp_ops.keepers.common import Action, run_loop, start

log = logging.getLogger("arbitrageur")
ONE_DAY = 86_400


@dataclass(frozen=True)
class ArbParams:
    leverage: Decimal = Decimal(5)
    min_profit: Decimal = Decimal(0)  # quote units
    min_deviation: Decimal = Decimal("0.001")  # |mark − index| / index below this: leave it
    max_margin: Decimal | None = None  # quote units per trade


@dataclass(frozen=True)
class Opportunity:
    symbol: str
    quote: Quote
    edge: int
    fees: int
    funding: int
    mark: int
    index: int

    @property
    def expected_profit(self) -> int:
        return self.edge - self.fees + self.funding


def _target_notional(quote_reserve: int, base_reserve: int, index: int) -> int:
    """|quote reserve − the quote reserve at which quote / base == index| on the same curve."""
    k = quote_reserve * base_reserve // WAD
    return abs(quote_reserve - isqrt(k * index))


def find_opportunity(client: PerpClient, symbol: str, params: ArbParams) -> Opportunity | None:
    """The trade toward the index for `symbol` with its expected profit, or None when there is none to make."""
    m = client.market(symbol)
    if not m.open or m.index_price == 0:
        return None
    if abs(m.mark_price - m.index_price) * WAD < to_wad(params.min_deviation) * m.index_price:
        log.debug("%s: mark %s within %s of index %s", symbol, fmt_wad(m.mark_price), params.min_deviation, fmt_wad(m.index_price))
        return None
    side = Side.SELL if m.mark_price > m.index_price else Side.BUY
    leverage = to_wad(params.leverage)
    notional = min(_target_notional(m.quote_reserve, m.base_reserve, m.index_price), mul_wad(m.quote_reserve, m.trade_limit_ratio) * 99 // 100)
    margin = div_wad(notional, leverage)
    # margin + fee (notional × fee ratio) must fit in the vault balance
    fee_ratio = m.toll_ratio + m.spread_ratio
    affordable = div_wad(client.vault_balance(), WAD + mul_wad(leverage, fee_ratio))
    margin = min(margin, affordable, to_wad(params.max_margin) if params.max_margin is not None else margin)
    if margin <= 0:
        log.debug("%s: no vault balance to trade with", symbol)
        return None
    quote = client.quote_open(symbol, side, from_wad(margin), params.leverage)
    base = abs(quote.exchanged_base)
    value_at_index = mul_wad(base, m.index_price)
    edge = quote.notional - value_at_index if side == Side.SELL else value_at_index - quote.notional
    f = client.amm(symbol).functions
    premium = int(f.getTwapPrice(m.funding_period).call()) - int(f.getUnderlyingTwapPrice(m.funding_period).call())
    premium_fraction = premium * m.funding_period // ONE_DAY
    funding = -mul_wad(quote.exchanged_base, premium_fraction)  # a short receives a positive premium
    return Opportunity(symbol, quote, edge, 2 * quote.fee, funding, m.mark_price, m.index_price)


def run_once(client: PerpClient, markets: Sequence[str] | None = None, params: ArbParams | None = None) -> list[Action]:
    """Trade every market whose opportunity clears `params.min_profit`; one Action per trade."""
    params = params or ArbParams()
    actions = []
    for symbol in markets or client.symbols:
        try:
            opp = find_opportunity(client, symbol, params)
        except PerpError as exc:
            log.warning("%s", exc)
            continue
        if opp is None:
            continue
        if opp.expected_profit <= to_wad(params.min_profit):
            log.debug("%s: expected profit %s not above %s", symbol, fmt_wad(opp.expected_profit), params.min_profit)
            continue
        q = opp.quote
        try:
            result = client.open_position(symbol, q.side, from_wad(q.margin), params.leverage)
        except PerpError as exc:
            log.warning("%s", exc)
            continue
        detail = (
            f"{'long' if q.side == Side.BUY else 'short'} {fmt_wad(abs(q.exchanged_base), 6)} for {fmt_wad(q.notional, 2)}: "
            f"mark {fmt_wad(opp.mark)} → {fmt_wad(q.spot_after)}, index {fmt_wad(opp.index)} ({fmt_pct(q.price_impact, 3)}); "
            f"expected profit {fmt_wad(opp.expected_profit)} = edge {fmt_wad(opp.edge)} − fees {fmt_wad(opp.fees)} "
            f"+ funding {fmt_wad(opp.funding)}"
        )
        actions.append(Action("arbitrage", symbol, detail, result.tx_hash))
    return actions


def _add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--leverage", type=Decimal, default=ArbParams.leverage, help="leverage of each trade (default %(default)s)")
    p.add_argument("--min-profit", type=Decimal, default=ArbParams.min_profit, help="quote units (default %(default)s)")
    p.add_argument("--min-deviation", type=Decimal, default=ArbParams.min_deviation, help="fraction (default %(default)s)")
    p.add_argument("--max-margin", type=Decimal, default=None, help="quote units per trade (default: the vault balance)")


def main(argv: Sequence[str] | None = None) -> int:
    started = start("arbitrageur", __doc__ or "", argv, _add_args)
    if isinstance(started, int):
        return started
    args, logger, client, markets = started
    params = ArbParams(args.leverage, args.min_profit, args.min_deviation, args.max_margin)
    return run_loop(logger, args.once, args.interval, lambda: run_once(client, markets, params))


if __name__ == "__main__":
    sys.exit(main())
