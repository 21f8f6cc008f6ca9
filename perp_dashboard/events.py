"""The dashboard's history source: the SQLite event index (perp_client.index), synced on each read.

The index file is the chain's (`$PERP_DATA_DIR/index-<chainId>.sqlite`, default `~/.perp`), shared with the
keepers and the command line, so a restarted dashboard reads only the blocks it has not seen. The index
finds reorgs, a chain that went back (a test snapshot reverted) and a restarted node by block hash, and
replaces what changed. The decoded events are kept in memory per index tip: an idle poll costs one RPC
call (the head block) and no decoding.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from perp_client import PerpClient
from perp_client.index import EventIndex, IndexedEvent

Event = IndexedEvent

# (contract, event name) of everything the dashboard shows
EVENTS: frozenset[tuple[str, str]] = frozenset({
    ("ClearingHouse", "PositionChanged"),
    ("ClearingHouse", "PositionLiquidated"),
    ("ClearingHouse", "MarginChanged"),
    ("ClearingHouse", "PositionSettled"),
    ("ClearingHouse", "SettlementClaimed"),
    ("ClearingHouse", "MarketHalted"),
    ("ClearingHouse", "Repegged"),
    ("ClearingHouse", "FundingPaid"),
    ("Vault", "Deposited"),
    ("Vault", "Withdrawn"),
})


@dataclass
class EventLog:
    """Every event of `EVENTS` since the deployment, from the index, kept up to date by `refresh()`
    (thread-safe). `path`: the index file (default: the chain's, see perp_client.index)."""

    client: PerpClient
    path: Path | None = None
    _index: EventIndex | None = None
    _events: list[Event] = field(default_factory=list)
    _tip: tuple[int, str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def index(self) -> EventIndex:
        if self._index is None:
            self._index = EventIndex.open(self.client, self.path)
        return self._index

    def refresh(self) -> list[Event]:
        """Sync the index; returns every event, oldest first."""
        with self._lock:
            index = self.index
            index.sync()
            if index.tip != self._tip:
                names = {name for _, name in EVENTS}
                self._events = [e for e in index.events(names) if (e.contract, e.name) in EVENTS]
                self._tip = index.tip
            return list(self._events)

    def timestamp(self, block: int) -> int:
        with self._lock:
            known = self.index.block_timestamp(block)
        return known if known is not None else int(self.client.w3.eth.get_block(block)["timestamp"])


def select(events: list[Event], name: str, **match: str) -> list[Event]:
    """The events called `name` whose (address) arguments equal `match`, case-insensitively."""
    want = {k: v.lower() for k, v in match.items()}
    return [e for e in events if e.name == name and all(str(e.args.get(k, "")).lower() == v for k, v in want.items())]
