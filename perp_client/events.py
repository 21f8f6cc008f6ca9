"""Protocol events read with `eth_getLogs` into memory, incrementally: the history of the dashboard and of `perp
history`.

A small stand-in for the toolkit's SQLite event index (same questions: trades, margin changes, deposits,
liquidations, settlements, halts, repegs, block times). It re-reads from the start when the chain went
backwards or the last block it read changed hash (a restart, a reorg, a test snapshot reverted).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from web3.types import EventData

from perp_client import PerpClient

CHUNK = 5_000

# (contract attribute on the client, event name) for everything the dashboard shows
EVENTS: tuple[tuple[str, str], ...] = (
    ("clearing_house", "PositionChanged"),
    ("clearing_house", "PositionLiquidated"),
    ("clearing_house", "MarginChanged"),
    ("clearing_house", "PositionSettled"),
    ("clearing_house", "MarketHalted"),
    ("clearing_house", "Repegged"),
    ("clearing_house", "FundingPaid"),
    ("vault", "Deposited"),
    ("vault", "Withdrawn"),
)


@dataclass(frozen=True)
class Event:
    """One decoded log: its name, arguments, block, time and position in the chain."""

    name: str
    args: dict[str, Any]
    block: int
    timestamp: int
    tx_hash: str
    log_index: int


@dataclass
class EventLog:
    """Every event of `EVENTS` since the deployment, kept up to date by `refresh()` (thread-safe)."""

    client: PerpClient
    events: list[Event] = field(default_factory=list)
    _next_block: int = -1
    _last_hash: bytes = b""
    _times: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _reset(self) -> None:
        self.events, self._times = [], {}
        self._next_block, self._last_hash = self.client.addresses.start_block, b""

    def _timestamp(self, block: int) -> int:
        if block not in self._times:
            self._times[block] = int(self.client.w3.eth.get_block(block)["timestamp"])
        return self._times[block]

    def refresh(self) -> list[Event]:
        """Read the blocks not read yet; returns every event, oldest first."""
        with self._lock:
            w3 = self.client.w3
            if self._next_block < 0:
                self._reset()
            latest = int(w3.eth.block_number)
            if self._last_hash and (
                latest < self._next_block - 1 or bytes(w3.eth.get_block(self._next_block - 1)["hash"]) != self._last_hash
            ):
                self._reset()
            if latest < self._next_block:
                return list(self.events)
            found: list[EventData] = []
            for attr, name in EVENTS:
                event = getattr(getattr(self.client, attr).events, name)
                for lo in range(self._next_block, latest + 1, CHUNK):
                    found.extend(event.get_logs(from_block=lo, to_block=min(lo + CHUNK - 1, latest)))
            found.sort(key=lambda e: (e["blockNumber"], e["logIndex"]))
            for e in found:
                n = int(e["blockNumber"])
                self.events.append(
                    Event(e["event"], dict(e["args"]), n, self._timestamp(n), "0x" + bytes(e["transactionHash"]).hex(), int(e["logIndex"]))
                )
            self._next_block = latest + 1
            self._last_hash = bytes(w3.eth.get_block(latest)["hash"])
            return list(self.events)

    def timestamp(self, block: int) -> int:
        with self._lock:
            return self._timestamp(block)


def select(events: list[Event], name: str, **match: str) -> list[Event]:
    """The events called `name` whose (address) arguments equal `match`, case-insensitively."""
    want = {k: v.lower() for k, v in match.items()}
    return [e for e in events if e.name == name and all(str(e.args.get(k, "")).lower() == v for k, v in want.items())]


def trade_kind(exchanged: int, size_after: int, liquidation_penalty: int = 0) -> str:
    """What a PositionChanged did to the position: open, increase, reduce, reverse, close or liquidation."""
    before = size_after - exchanged
    if liquidation_penalty:
        return "liquidation"
    if size_after == 0:
        return "close"
    if before == 0:
        return "open"
    if (after_long := size_after > 0) != (before > 0):
        return "reverse"
    return "increase" if (exchanged > 0) == after_long else "reduce"


def involves(e: Event, trader: str) -> bool:
    """Whether `trader` is the account of event `e` (trader, account or liquidated trader)."""
    who = e.args.get("trader", e.args.get("account", ""))
    return str(who).lower() == trader.lower()
