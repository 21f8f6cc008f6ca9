"""Funding keeper: calls `ClearingHouse.payFunding(amm)` for every market whose funding is due.

Due means `block.timestamp >= amm.nextFundingTime()` at the latest block (and the market open).

    python -m perp_ops.keepers.funding [--once] [--markets ETH,BTC] [--rpc URL]
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from perp_client import PerpClient, PerpError
from perp_client.units import fmt_pct
from perp_ops.keepers.common import Action, run_loop, start

log = logging.getLogger("funding")


def run_once(client: PerpClient, markets: Sequence[str] | None = None) -> list[Action]:
    """Pay funding where it is due; one Action per market settled."""
    actions = []
    now = client.block_timestamp()
    for symbol in markets or client.symbols:
        f = client.amm(symbol).functions
        due = int(f.nextFundingTime().call())
        if not f.open().call():
            log.debug("%s closed", symbol)
            continue
        if now < due:
            log.debug("%s: funding due in %d s", symbol, due - now)
            continue
        try:
            result = client.pay_funding(symbol)
        except PerpError as exc:
            log.warning("%s", exc)
            continue
        rate = int(f.fundingRate().call())
        detail = f"rate {fmt_pct(rate, 4)} per period, next at {int(f.nextFundingTime().call())}"
        actions.append(Action("pay_funding", symbol, detail, result.tx_hash))
    return actions


def main(argv: Sequence[str] | None = None) -> int:
    started = start("funding", __doc__ or "", argv)
    if isinstance(started, int):
        return started
    args, logger, client, markets = started
    return run_loop(logger, args.once, args.interval, lambda: run_once(client, markets))


if __name__ == "__main__":
    sys.exit(main())
