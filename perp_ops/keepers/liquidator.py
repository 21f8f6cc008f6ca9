"""Liquidator: follows every trader through `PositionChanged` events and liquidates those whose
`getMarginRatio` is below the maintenance margin ratio. Its profit is the liquidation fee the
ClearingHouse credits to its vault balance (gas not counted), logged per liquidation and in total.

    python -m perp_ops.keepers.liquidator [--once] [--markets ETH] [--rpc URL]
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from perp_client import PerpClient, PerpError
from perp_client.units import fmt_pct, fmt_wad
from perp_ops.keepers.common import Action, run_loop, start

log = logging.getLogger("liquidator")


@dataclass
class LiquidatorState:
    """Traders with an open position per market, the next block to scan, the fees earned so far."""

    traders: dict[str, set[str]] = field(default_factory=dict)
    next_block: int | None = None
    profit: int = 0  # wad

    def scan(self, client: PerpClient) -> None:
        """Read the PositionChanged events since the last scan."""
        latest = client.w3.eth.block_number
        start = client.addresses.start_block if self.next_block is None else self.next_block
        if start > latest:
            return
        for event in client.position_changes(start, latest):
            symbol = client.symbol_of(event.amm)
            holders = self.traders.setdefault(symbol, set())
            if event.position_size_after == 0:
                holders.discard(event.trader)
            else:
                holders.add(event.trader)
        self.next_block = latest + 1


def run_once(client: PerpClient, state: LiquidatorState | None = None, markets: Sequence[str] | None = None) -> list[Action]:
    """Scan new events, then liquidate every tracked position below maintenance; one Action per liquidation."""
    state = state if state is not None else LiquidatorState()
    state.scan(client)
    _, maintenance = client.margin_ratios()
    ch = client.clearing_house.functions
    actions = []
    for symbol in markets or client.symbols:
        amm = client.amm(symbol)
        for trader in sorted(state.traders.get(symbol, set())):
            if ch.getPosition(amm.address, trader).call()[0] == 0:
                state.traders[symbol].discard(trader)
                continue
            ratio = int(ch.getMarginRatio(amm.address, trader).call())
            if ratio >= maintenance:
                log.debug("%s %s: margin ratio %s, healthy", symbol, trader, fmt_pct(ratio))
                continue
            before = client.vault_balance()
            try:
                result = client.liquidate(symbol, trader)
            except PerpError as exc:
                log.warning("%s", exc)
                continue
            earned = client.vault_balance() - before
            state.profit += earned
            detail = (
                f"{trader} at margin ratio {fmt_pct(ratio)} (maintenance {fmt_pct(maintenance)}): "
                f"fee earned {fmt_wad(earned)}, total {fmt_wad(state.profit)}"
            )
            actions.append(Action("liquidate", symbol, detail, result.tx_hash))
    return actions


def main(argv: Sequence[str] | None = None) -> int:
    started = start("liquidator", __doc__ or "", argv)
    if isinstance(started, int):
        return started
    args, logger, client, markets = started
    state = LiquidatorState()
    status = run_loop(logger, args.once, args.interval, lambda: run_once(client, state, markets))
    logger.info("fees earned this session: %s", fmt_wad(state.profit))
    return status


if __name__ == "__main__":
    sys.exit(main())
