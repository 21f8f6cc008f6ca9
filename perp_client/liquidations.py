"""Which positions can be liquidated now: the traders come from the event index, their margin ratios from
one batched read (Multicall3 pages, all at one block).

A pass over N traders costs the index's sync (one round trip when nothing happened, three otherwise) and
ceil((N + 1) / page) eth_calls (page: 400 calls by default), instead of two eth_calls per trader. Each
trader's read may fail on its own: a position closed since the index saw it answers `NoPosition` and is
reported as closed; any other revert is reported for that trader, and the others are still checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from perp_client.errors import PerpError
from perp_client.index import EventIndex


@dataclass(frozen=True)
class Candidate:
    """A position whose margin ratio (wad) is below the maintenance margin ratio at `Scan.block`."""

    symbol: str
    trader: str
    margin_ratio: int


@dataclass
class Scan:
    """One pass's reading: the block, the maintenance ratio, how many positions were checked, those below
    maintenance, those closed meanwhile, and those whose read failed (with the decoded reason)."""

    block: int
    maintenance: int
    checked: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    closed: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    healthy: list[tuple[str, str, int]] = field(default_factory=list)


def scan(client: Any, index: EventIndex, markets: Sequence[str] | None = None) -> Scan:
    """Sync `index`, then read every open position's margin ratio in `markets` (default: all) at one block."""
    index.sync()
    holders = [(s.upper(), t) for s in (markets or client.symbols) for t in sorted(index.open_positions(s))]
    ch = client.clearing_house.functions
    calls = [ch.maintenanceMarginRatio(), *(ch.getMarginRatio(client.amm(s).address, t) for s, t in holders)]
    block, outcomes = client.batch.read(calls)
    if not outcomes[0].ok:
        raise PerpError(f"maintenanceMarginRatio: {client.reason(outcomes[0])}")
    result = Scan(block, int(outcomes[0].value), checked=len(holders))
    for (symbol, trader), o in zip(holders, outcomes[1:], strict=True):
        if not o.ok:
            reason = client.reason(o)
            if reason.startswith("NoPosition"):
                result.closed.append((symbol, trader))
            else:
                result.failed.append((symbol, trader, reason))
        elif int(o.value) < result.maintenance:
            result.candidates.append(Candidate(symbol, trader, int(o.value)))
        else:
            result.healthy.append((symbol, trader, int(o.value)))
    return result
