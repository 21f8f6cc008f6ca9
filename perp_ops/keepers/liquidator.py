"""Liquidator: liquidates every position whose `getMarginRatio` is below the maintenance margin ratio. Its
profit is the liquidation fee the ClearingHouse credits to its vault balance (gas not counted), logged per
liquidation and in total.

Each pass syncs the event index (perp_client.index: SQLite under $PERP_DATA_DIR or ~/.perp, shared with the
dashboard and the command line, reorg-safe: a position re-orged into a block already read is found) for the
traders with an open position, then reads their margin ratios in pages of one eth_call each
(perp_client.liquidations: Multicall3, all at one block). A pass over 1,000 traders is about six round
trips. One trader's failure (a revert: another liquidator came first, the position was closed) is logged
and the pass goes on.

    python -m perp_ops.keepers.liquidator [--once] [--markets ETH] [--rpc URL] [--index PATH]
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from web3.exceptions import Web3Exception

from perp_client import PerpClient, PerpError, PositionLiquidated
from perp_client.index import EventIndex
from perp_client.liquidations import scan
from perp_client.units import fmt_pct, fmt_wad
from perp_ops.keepers.common import Action, run_loop, start

log = logging.getLogger("liquidator")


@dataclass
class LiquidatorState:
    """The event index the traders come from (opened on first use: `index_path`, default the chain's file)
    and the fees earned so far (wad)."""

    index: EventIndex | None = None
    index_path: Path | None = None
    profit: int = 0

    def index_for(self, client: PerpClient) -> EventIndex:
        if self.index is None:
            self.index = EventIndex.open(client, self.index_path)
        return self.index


def run_once(client: PerpClient, state: LiquidatorState | None = None, markets: Sequence[str] | None = None) -> list[Action]:
    """Scan every open position (batched), then liquidate those below maintenance; one Action per liquidation."""
    state = state if state is not None else LiquidatorState()
    found = scan(client, state.index_for(client), markets)
    for symbol, trader, ratio in found.healthy:
        log.debug("%s %s: margin ratio %s, healthy", symbol, trader, fmt_pct(ratio))
    for symbol, trader, reason in found.failed:
        log.warning("%s %s: margin ratio unreadable: %s", symbol, trader, reason)
    actions = []
    for c in found.candidates:
        try:
            result = client.liquidate(c.symbol, c.trader)
        except (PerpError, Web3Exception, ValueError) as exc:  # this trader only: the pass goes on
            log.warning("%s %s: not liquidated: %s", c.symbol, c.trader, exc)
            continue
        me = client.address.lower()
        earned = sum(e.liquidation_fee for e in result.events if isinstance(e, PositionLiquidated) and e.liquidator.lower() == me)
        state.profit += earned
        detail = (
            f"{c.trader} at margin ratio {fmt_pct(c.margin_ratio)} (maintenance {fmt_pct(found.maintenance)}): "
            f"fee earned {fmt_wad(earned)}, total {fmt_wad(state.profit)}"
        )
        actions.append(Action("liquidate", c.symbol, detail, result.tx_hash))
    return actions


def _add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, default=None, help="event index file (default $PERP_DATA_DIR/index-<chainId>.sqlite)")


def main(argv: Sequence[str] | None = None) -> int:
    started = start("liquidator", __doc__ or "", argv, _add_args)
    if isinstance(started, int):
        return started
    args, logger, client, markets = started
    state = LiquidatorState(index_path=args.index)
    status = run_loop(logger, args.once, args.interval, lambda: run_once(client, state, markets))
    logger.info("fees earned this session: %s", fmt_wad(state.profit))
    return status


if __name__ == "__main__":
    sys.exit(main())
