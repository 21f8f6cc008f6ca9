"""The protocol's events in SQLite: one file per chain, resumable, reorg-safe.

    index = EventIndex.open(client)              # ~/.perp/index-<chainId>.sqlite ($PERP_DATA_DIR to move it)
    index.sync()                                 # read the blocks not read yet (and re-read the last N)
    index.history(trader)                        # trades, margin, funding, liquidations, settlements, deposits
    index.summary(trader)                        # realised PnL, fees, funding paid and received, ...
    index.open_positions("ETH")                  # {trader: size} for the liquidator

Every event of the deployment's contracts (ClearingHouse, Vault, InsuranceFund, price feed, each Amm) is
decoded with the build's ABIs and stored with its block number, block hash, block time, transaction and log
index. Amounts are kept exactly (wad integers as decimal text in the JSON of `args`).

Sync. Each `sync()` asks for the head block; when its hash is the one stored, nothing else is read (one
call). Otherwise it checks that the block it stopped at (the tip) still has the stored hash. If it does, it
reads from `tip + 1 - reorg_depth`: the last `reorg_depth` blocks are read again and whatever changed in them
is replaced. If it does not (a reorg deeper than that window, a chain that went back, a restarted node), it
finds the newest stored block that is still on the chain (binary search over the blocks it holds) and
reads again from there. Logs come in chunks of `chunk` blocks, each committed with the tip it reached: an
interrupted sync resumes where it stopped. A file whose deployment (addresses, first block) differs is
emptied and rebuilt; a file of another chain is refused.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import BlockNotFound
from web3.types import LogReceipt

from perp_client.abi import load_abi
from perp_client.deployment import Addresses
from perp_client.errors import PerpError
from perp_client.units import WAD

log = logging.getLogger("perp_client.index")

SCHEMA_VERSION = 1
DEFAULT_REORG_DEPTH = 64
DEFAULT_CHUNK = 5_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    timestamp INTEGER,
    has_events INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS events (
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    block_hash TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    address TEXT NOT NULL,
    contract TEXT NOT NULL,
    name TEXT NOT NULL,
    trader TEXT,
    amm TEXT,
    liquidator TEXT,
    args TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX IF NOT EXISTS events_by_trader ON events (trader, block_number, log_index);
CREATE INDEX IF NOT EXISTS events_by_amm ON events (amm, name, trader);
CREATE INDEX IF NOT EXISTS events_by_name ON events (name, block_number);
CREATE INDEX IF NOT EXISTS events_by_liquidator ON events (liquidator);
"""


def data_dir() -> Path:
    """`$PERP_DATA_DIR`, else `~/.perp`."""
    return Path(os.environ.get("PERP_DATA_DIR") or Path.home() / ".perp")


def default_index_path(chain_id: int) -> Path:
    return data_dir() / f"index-{chain_id}.sqlite"


# ---------------------------------------------------------------------------------------------- values


def _to_json(value: Any) -> Any:
    """Decoded ABI values as JSON: integers as decimal text (a wad does not fit SQLite's or JSON's numbers)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    return str(value)


def _from_json(value: Any, param: dict[str, Any]) -> Any:
    """Back to web3's types, guided by the ABI parameter."""
    t: str = param["type"]
    if t.endswith("]"):
        inner = {**param, "type": t[: t.rindex("[")]}
        return [_from_json(v, inner) for v in value]
    if t == "tuple":
        return {c["name"]: _from_json(value[c["name"]] if isinstance(value, dict) else value[i], c)
                for i, c in enumerate(param["components"])}
    if t.startswith(("uint", "int")):
        return int(value)
    if t.startswith("bytes"):
        return bytes.fromhex(value[2:])
    return value


# ---------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class IndexedEvent:
    """One stored event: decoded `args` (ints, checksummed addresses, bytes) and where it is in the chain."""

    contract: str  # ClearingHouse, Vault, InsuranceFund, Amm, ChainlinkPriceFeed
    name: str
    address: str
    args: dict[str, Any]
    block_number: int
    block_hash: str
    timestamp: int
    tx_hash: str
    log_index: int

    @property
    def block(self) -> int:
        return self.block_number


@dataclass(frozen=True)
class SyncReport:
    """What one `sync()` did: blocks [from_block, to_block] read; events added and removed (a re-read block
    whose events changed counts both); `reorg_at`: the first block found replaced (None: no reorg seen)."""

    from_block: int
    to_block: int
    added: int = 0
    removed: int = 0
    reorg_at: int | None = None
    unchanged: bool = False

    def __str__(self) -> str:
        if self.unchanged:
            return f"index: at block {self.to_block}, nothing new"
        reorg = f"; reorg: blocks from {self.reorg_at} replaced" if self.reorg_at is not None else ""
        return f"index: read blocks {self.from_block}-{self.to_block}: {self.added} events added, {self.removed} removed{reorg}"


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a trader's history (wad amounts; None where it does not apply).

    kind: open, increase, reduce, reverse, close, liquidation (the position change a liquidation made),
    liquidated (the liquidation itself: fee to the liquidator, bad debt), liquidator fee (a liquidation this
    trader made), add margin, remove margin, settlement claim (registered in a shut-down market's claim window),
    settle (paid), deposit, withdraw."""

    kind: str
    symbol: str | None
    block_number: int
    timestamp: int
    tx_hash: str
    log_index: int
    size_change: int | None = None
    size_after: int | None = None
    notional: int | None = None
    price: int | None = None
    fee: int | None = None
    realized_pnl: int | None = None
    funding_payment: int | None = None  # positive: the trader paid
    amount: int | None = None  # margin moved, value settled, fee earned (wad); deposit, withdraw (token units)
    bad_debt: int | None = None


@dataclass
class TraderSummary:
    """A trader's totals over the indexed history (wad, except deposits and withdrawals in token units)."""

    trades: int = 0
    realized_pnl: int = 0
    fees: int = 0
    funding_paid: int = 0  # the sum of positive funding payments
    funding_received: int = 0  # the sum of negative ones, as a positive number
    liquidations: int = 0  # positions of this trader liquidated
    liquidation_penalties: int = 0
    bad_debt: int = 0
    settled: int = 0  # credited by settlePosition after a shutdown
    liquidator_fees: int = 0  # earned liquidating others
    deposited: int = 0
    withdrawn: int = 0
    by_market: dict[str, TraderSummary] = field(default_factory=dict)

    @property
    def net_funding(self) -> int:
        """Received minus paid."""
        return self.funding_received - self.funding_paid


# ---------------------------------------------------------------------------------------------- index


class EventIndex:
    """The events of one deployment on one chain, in one SQLite file (thread-safe; several processes may
    share the file)."""

    def __init__(
        self,
        w3: Web3,
        addresses: Addresses,
        path: Path | str | None = None,
        reorg_depth: int = DEFAULT_REORG_DEPTH,
        chunk: int = DEFAULT_CHUNK,
        build: str | None = None,
    ) -> None:
        if reorg_depth < 1 or chunk < 1:
            raise PerpError("reorg_depth and chunk must be at least 1")
        self.w3 = w3
        self.addresses = addresses
        self.reorg_depth = reorg_depth
        self.chunk = chunk
        self.path = Path(path) if path is not None and str(path) != ":memory:" else path
        if self.path is None:
            self.path = default_index_path(addresses.chain_id)
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._contracts = self._watched(build)
        self._topics: dict[tuple[str, bytes], tuple[str, str]] = {}
        self._event_inputs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for address, (name, contract) in self._contracts.items():
            for item in contract.abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                types = ",".join(_abi_type(i) for i in item["inputs"])
                topic = Web3.keccak(text=f"{item['name']}({types})")
                self._topics[(address, bytes(topic))] = (name, item["name"])
                self._event_inputs[(name, item["name"])] = item["inputs"]
        self._symbols = {Web3.to_checksum_address(a): s for s, a in addresses.amms.items()}
        self._prepare()

    @classmethod
    def open(cls, client: Any, path: Path | str | None = None, **kwargs: Any) -> EventIndex:
        """The index of a PerpClient's deployment (default file: `default_index_path(chain id)`)."""
        return cls(client.w3, client.addresses, path, **kwargs)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ set-up

    def _watched(self, build: str | None) -> dict[str, tuple[str, Contract]]:
        a = self.addresses
        roles = [("ClearingHouse", a.clearing_house), ("Vault", a.vault), ("InsuranceFund", a.insurance_fund),
                 ("ChainlinkPriceFeed", a.price_feed), *(("Amm", amm) for amm in a.amms.values())]
        out = {}
        for name, address in roles:
            checksum = Web3.to_checksum_address(address)
            out[checksum] = (name, self.w3.eth.contract(address=checksum, abi=load_abi(name, build)))
        return out

    @property
    def _deployment_key(self) -> str:
        return json.dumps({"addresses": sorted(self._contracts), "start_block": self.addresses.start_block})

    def _prepare(self) -> None:
        with self._lock:
            self._db.executescript(_SCHEMA)
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("chain_id") not in (None, str(self.addresses.chain_id)):
                raise PerpError(f"{self.path} is the index of chain {meta['chain_id']}, not of chain {self.addresses.chain_id}")
            if meta.get("schema") not in (None, str(SCHEMA_VERSION)) or meta.get("deployment") not in (None, self._deployment_key):
                log.warning("index %s: another deployment or format; rebuilding it", self.path)
                self._db.executescript("DELETE FROM events; DELETE FROM blocks; DELETE FROM meta;")
            self._db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("chain_id", str(self.addresses.chain_id)), ("schema", str(SCHEMA_VERSION)), ("deployment", self._deployment_key)],
            )

    # ------------------------------------------------------------------------------------------- sync

    @property
    def tip(self) -> tuple[int, str] | None:
        """(number, hash) of the last block read, None before the first sync."""
        with self._lock:
            rows = dict(self._db.execute("SELECT key, value FROM meta WHERE key IN ('tip_number', 'tip_hash')").fetchall())
        if "tip_number" not in rows:
            return None
        return int(rows["tip_number"]), rows["tip_hash"]

    def _hash_at(self, number: int) -> str | None:
        try:
            return "0x" + bytes(self.w3.eth.get_block(number)["hash"]).hex()
        except BlockNotFound:
            return None

    def _fork_point(self, tip: tuple[int, str], head_number: int, head_hash: str) -> int | None:
        """None when the tip is still on the chain; else the first block to read again (the block after the
        newest stored block that still is)."""
        tip_number, tip_hash = tip
        if tip_number <= head_number:
            on_chain = head_hash if tip_number == head_number else self._hash_at(tip_number)
            if on_chain == tip_hash:
                return None
        with self._lock:
            stored = self._db.execute("SELECT number, hash FROM blocks WHERE number < ? AND number <= ? ORDER BY number",
                                      (tip_number, head_number)).fetchall()
        lo, hi = 0, len(stored) - 1  # the newest index whose block is still on the chain: binary search
        found = -1
        while lo <= hi:
            mid = (lo + hi) // 2
            number, stored_hash = stored[mid]
            if self._hash_at(number) == stored_hash:
                found, lo = mid, mid + 1
            else:
                hi = mid - 1
        return stored[found][0] + 1 if found >= 0 else self.addresses.start_block

    def sync(self, to_block: int | None = None, progress: Callable[[int, int], None] | None = None) -> SyncReport:
        """Bring the index up to `to_block` (default: the head). `progress(block, head)` after each chunk."""
        with self._lock:
            head = self.w3.eth.get_block("latest" if to_block is None else to_block)
            head_number, head_hash = int(head["number"]), "0x" + bytes(head["hash"]).hex()
            start = self.addresses.start_block
            tip = self.tip
            if tip == (head_number, head_hash):
                return SyncReport(head_number + 1, head_number, unchanged=True)
            reorg_at = None
            if tip is None:
                first = start
            else:
                reorg_at = self._fork_point(tip, head_number, head_hash)
                window = tip[0] + 1 - self.reorg_depth
                first = max(start, min(window, reorg_at if reorg_at is not None else window))
            old = self._keys_from(first)
            new: set[tuple[int, int, str, str]] = set()
            lo = first
            if lo > head_number:  # the chain went back below the first block to read: only drop what is gone
                self._commit(lo, [], {}, (head_number, head_hash), replace=True)
            while lo <= head_number:
                hi = min(lo + self.chunk - 1, head_number)
                logs = self._get_logs(lo, hi)
                hi_hash = head_hash if hi == head_number else self._hash_at(hi)
                if hi_hash is None:
                    raise PerpError(f"index: block {hi} disappeared during the sync (a reorg): sync again")
                rows, blocks = self._decode(logs)
                self._commit(lo, rows, blocks, (hi, hi_hash), replace=lo == first)
                new.update((r[0], r[1], r[2], r[3]) for r in rows)
                if progress:
                    progress(hi, head_number)
                lo = hi + 1
            report = SyncReport(first, head_number, len(new - old), len(old - new), _first_changed(old, new, reorg_at))
            if report.reorg_at is not None:
                log.warning("%s", report)
            return report

    def _keys_from(self, first: int) -> set[tuple[int, int, str, str]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT block_number, log_index, block_hash, tx_hash FROM events WHERE block_number >= ?", (first,)
            ).fetchall()
        return {(int(a), int(b), c, d) for a, b, c, d in rows}

    def _get_logs(self, lo: int, hi: int) -> list[LogReceipt]:
        return list(self.w3.eth.get_logs({"fromBlock": lo, "toBlock": hi, "address": list(self._contracts)}))

    def _decode(self, logs: Sequence[LogReceipt]) -> tuple[list[tuple[Any, ...]], dict[int, tuple[str, int | None]]]:
        rows: list[tuple[Any, ...]] = []
        blocks: dict[int, tuple[str, int | None]] = {}
        for entry in logs:
            address = Web3.to_checksum_address(entry["address"])
            if not entry["topics"]:
                continue
            found = self._topics.get((address, bytes(entry["topics"][0])))
            if found is None:
                continue  # an event of a library or a token, not in this contract's ABI
            contract_name, event_name = found
            contract = self._contracts[address][1]
            decoded = getattr(contract.events, event_name)().process_log(entry)
            args = dict(decoded["args"])
            number = int(entry["blockNumber"])
            block_hash = "0x" + bytes(entry["blockHash"]).hex()
            stamp = entry.get("blockTimestamp")  # type: ignore[misc]
            known = blocks.get(number)
            if known is not None and known[0] != block_hash:
                raise PerpError(f"index: the node returned block {number} with two hashes (a reorg during the read): sync again")
            blocks[number] = (block_hash, int(stamp, 16) if isinstance(stamp, str) else stamp)
            trader = args.get("trader", args.get("account")) if contract_name in ("ClearingHouse", "Vault") else None
            amm = args.get("amm") or (address if contract_name == "Amm" else None)
            rows.append((
                number, int(entry["logIndex"]), block_hash, "0x" + bytes(entry["transactionHash"]).hex(), address,
                contract_name, event_name, trader, amm, args.get("liquidator") if event_name == "PositionLiquidated" else None,
                json.dumps(_to_json(args)),
            ))
        for number, (block_hash, stamp) in list(blocks.items()):
            if stamp is None:  # a node whose logs do not carry blockTimestamp
                blocks[number] = (block_hash, int(self.w3.eth.get_block(number)["timestamp"]))
        return rows, blocks

    def _commit(
        self, lo: int, rows: list[tuple[Any, ...]], blocks: dict[int, tuple[str, int | None]], tip: tuple[int, str], replace: bool
    ) -> None:
        """One chunk in one transaction: (replace: drop everything from `lo` on first) its events, its blocks
        and the tip it reached."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                if replace:
                    db.execute("DELETE FROM events WHERE block_number >= ?", (lo,))
                    db.execute("DELETE FROM blocks WHERE number >= ?", (lo,))
                db.executemany("INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                db.executemany("INSERT OR REPLACE INTO blocks (number, hash, timestamp, has_events) VALUES (?, ?, ?, 1)",
                               [(n, h, t) for n, (h, t) in blocks.items()])
                db.execute("INSERT OR IGNORE INTO blocks (number, hash, has_events) VALUES (?, ?, 0)", tip)
                # checkpoints without events are only needed near the tip
                db.execute("DELETE FROM blocks WHERE has_events = 0 AND number < ?", (tip[0] - self.reorg_depth,))
                db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                               [("tip_number", str(tip[0])), ("tip_hash", tip[1])])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------------------------------ reads

    def _event(self, row: tuple[Any, ...]) -> IndexedEvent:
        number, log_index, block_hash, tx_hash, address, contract, name, args, timestamp = row
        inputs = self._event_inputs.get((contract, name), [])
        raw = json.loads(args)
        decoded = {i["name"]: _from_json(raw[i["name"]], i) for i in inputs if i["name"] in raw}
        return IndexedEvent(contract, name, address, decoded, number, block_hash, int(timestamp or 0), tx_hash, log_index)

    def events(
        self,
        names: str | Iterable[str] | None = None,
        *,
        contract: str | None = None,
        trader: str | None = None,
        amm: str | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
    ) -> list[IndexedEvent]:
        """Stored events, oldest first, filtered by event name(s), contract name, trader (or Vault account),
        market (address or symbol) and block range."""
        where, params = [], []
        if names is not None:
            wanted = [names] if isinstance(names, str) else list(names)
            where.append(f"e.name IN ({','.join('?' * len(wanted))})")
            params.extend(wanted)
        if contract is not None:
            where.append("e.contract = ?")
            params.append(contract)
        if trader is not None:
            where.append("e.trader = ?")
            params.append(_checksum(trader))
        if amm is not None:
            where.append("e.amm = ?")
            params.append(self._amm_address(amm))
        if from_block is not None:
            where.append("e.block_number >= ?")
            params.append(from_block)
        if to_block is not None:
            where.append("e.block_number <= ?")
            params.append(to_block)
        return self._select(" AND ".join(where) or "1", params)

    def _select(self, where: str, params: Sequence[Any]) -> list[IndexedEvent]:
        sql = (
            "SELECT e.block_number, e.log_index, e.block_hash, e.tx_hash, e.address, e.contract, e.name, e.args, b.timestamp "
            f"FROM events e LEFT JOIN blocks b ON b.number = e.block_number WHERE {where} ORDER BY e.block_number, e.log_index"
        )
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [self._event(r) for r in rows]

    def _amm_address(self, amm: str) -> str:
        if isinstance(amm, str) and amm.upper() in self.addresses.amms:
            return Web3.to_checksum_address(self.addresses.amms[amm.upper()])
        if Web3.is_address(str(getattr(amm, "address", amm))):
            return _checksum(amm)
        raise PerpError(f"unknown market {amm!r} (markets: {', '.join(self.addresses.amms)})")

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def block_timestamp(self, number: int) -> int | None:
        """The time of a block the index holds (a block with events, or a recent tip)."""
        with self._lock:
            row = self._db.execute("SELECT timestamp FROM blocks WHERE number = ?", (number,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def open_positions(self, market: str) -> dict[str, int]:
        """{trader: size} of every open position in `market` (symbol or address), by the events: the last
        PositionChanged of each trader, unless a PositionSettled or SettlementClaimed came after it."""
        sql = """
            SELECT trader, name, json_extract(args, '$.positionSizeAfter') FROM (
                SELECT trader, name, args, ROW_NUMBER() OVER (
                    PARTITION BY trader ORDER BY block_number DESC, log_index DESC) AS latest
                FROM events WHERE amm = ? AND name IN ('PositionChanged', 'PositionSettled', 'SettlementClaimed')
                    AND contract = 'ClearingHouse'
            ) WHERE latest = 1 AND name = 'PositionChanged'
        """
        with self._lock:
            rows = self._db.execute(sql, (self._amm_address(market),)).fetchall()
        return {trader: int(size) for trader, _, size in rows if int(size) != 0}

    def traders(self, market: str | None = None) -> list[str]:
        """Every address that ever traded (in `market`)."""
        sql = "SELECT DISTINCT trader FROM events WHERE name = 'PositionChanged'"
        params: list[Any] = []
        if market is not None:
            sql += " AND amm = ?"
            params.append(self._amm_address(market))
        with self._lock:
            return sorted(r[0] for r in self._db.execute(sql, params).fetchall())

    # ---------------------------------------------------------------------------------------- history

    def history(self, trader: str, market: str | None = None) -> list[HistoryEntry]:
        """`trader`'s history, oldest first: position changes, liquidations (suffered and made), margin,
        settlements; with no `market`, also deposits and withdrawals."""
        who = _checksum(trader)
        where = "(e.trader = ? AND e.contract IN ('ClearingHouse', 'Vault')) OR (e.liquidator = ?)"
        params: list[Any] = [who, who]
        if market is not None:
            where = f"({where}) AND e.amm = ?"
            params.append(self._amm_address(market))
        return [entry for e in self._select(where, params) if (entry := self._entry(e, who)) is not None]

    def _entry(self, e: IndexedEvent, who: str) -> HistoryEntry | None:
        a = e.args
        symbol = self._symbols.get(a["amm"]) if "amm" in a else None
        base = {"symbol": symbol, "block_number": e.block_number, "timestamp": e.timestamp, "tx_hash": e.tx_hash, "log_index": e.log_index}
        if e.name == "PositionChanged":
            exchanged, after = a["exchangedPositionSize"], a["positionSizeAfter"]
            return HistoryEntry(
                kind=trade_kind(exchanged, after, a["liquidationPenalty"]), size_change=exchanged, size_after=after,
                notional=a["positionNotional"], price=a["positionNotional"] * WAD // abs(exchanged) if exchanged else None,
                fee=a["fee"], realized_pnl=a["realizedPnl"], funding_payment=a["fundingPayment"],
                amount=a["liquidationPenalty"] or None, bad_debt=a["badDebt"], **base,
            )
        if e.name == "PositionLiquidated":
            if a["trader"] == who:
                return HistoryEntry(kind="liquidated", size_change=None, size_after=None, notional=a["positionNotional"],
                                    fee=a["liquidationFee"], bad_debt=a["badDebt"], **base)
            return HistoryEntry(kind="liquidator fee", notional=a["positionNotional"], amount=a["liquidationFee"], **base)
        if e.name == "MarginChanged":
            return HistoryEntry(kind="add margin" if a["amount"] > 0 else "remove margin", amount=a["amount"],
                                funding_payment=a["fundingPayment"], **base)
        if e.name == "PositionSettled":
            return HistoryEntry(kind="settle", amount=a["valueTransferred"], **base)
        if e.name == "SettlementClaimed":
            return HistoryEntry(kind="settlement claim", amount=a["value"], **base)
        if e.contract == "Vault" and e.name in ("Deposited", "Withdrawn"):
            return HistoryEntry(kind="deposit" if e.name == "Deposited" else "withdraw", amount=a["amount"], **base)
        return None

    def summary(self, trader: str) -> TraderSummary:
        """`trader`'s totals, overall and per market."""
        total = TraderSummary()
        for h in self.history(trader):
            parts = [total]
            if h.symbol is not None:
                parts.append(total.by_market.setdefault(h.symbol, TraderSummary()))
            for s in parts:
                _add(s, h)
        return total


def _add(s: TraderSummary, h: HistoryEntry) -> None:
    if h.kind in ("open", "increase", "reduce", "reverse", "close", "liquidation"):
        s.trades += 1
        s.realized_pnl += h.realized_pnl or 0
        s.fees += h.fee or 0
        s.bad_debt += h.bad_debt or 0
        if h.kind == "liquidation":
            s.liquidation_penalties += h.amount or 0
    funding = h.funding_payment or 0
    s.funding_paid += max(funding, 0)
    s.funding_received += max(-funding, 0)
    if h.kind == "liquidated":
        s.liquidations += 1
    elif h.kind == "liquidator fee":
        s.liquidator_fees += h.amount or 0
    elif h.kind == "settle":
        s.settled += h.amount or 0
    elif h.kind == "deposit":
        s.deposited += h.amount or 0
    elif h.kind == "withdraw":
        s.withdrawn += h.amount or 0


def trade_kind(exchanged: int, after: int, penalty: int = 0) -> str:
    """What a PositionChanged did to the position: open, increase, reduce, reverse, close or liquidation."""
    before = after - exchanged
    if penalty:
        return "liquidation"
    if after == 0:
        return "close"
    if before == 0:
        return "open"
    if (after > 0) != (before > 0):
        return "reverse"
    return "increase" if (exchanged > 0) == (before > 0) else "reduce"


def _first_changed(old: set[tuple[int, int, str, str]], new: set[tuple[int, int, str, str]], reorg_at: int | None) -> int | None:
    """The first block whose events differ between what was stored and what was read (or the fork point
    found by hash), None when nothing stored changed."""
    gone = old - new
    if not gone and reorg_at is None:
        return None
    blocks = [k[0] for k in gone]
    if reorg_at is not None:
        blocks.append(reorg_at)
    return min(blocks)


def _checksum(address: Any) -> str:
    """An address (or anything with an `.address`, e.g. a brownie account), checksummed."""
    return Web3.to_checksum_address(str(getattr(address, "address", address)))


def _abi_type(param: dict[str, Any]) -> str:
    t: str = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + t[len("tuple") :]
    return t
