"""Nonces for one key shared by several senders (threads, keeper processes on one machine).

Two keepers that sign with the same key and each ask the node for the next nonce can both get N, and the
second transaction is then refused ("nonce too low", "replacement transaction underpriced") or replaces
the first. `NonceManager.reserve()` makes "read the nonce, sign, send" one critical section per (chain, key):
a thread lock inside the process and an exclusive `flock` on `<data dir>/nonces/<chainId>-<address>.lock`
across processes. The file also records the last nonce sent and when: a node that has not yet seen that
transaction (a load-balanced RPC) still yields the next one. A record older than `memory` seconds is
ignored, so a transaction that was dropped does not leave a gap forever.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from web3 import Web3

from perp_client.index import data_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux/macOS: threads are still serialised
    fcntl = None  # type: ignore[assignment]

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


class NonceManager:
    """The next nonce of `address` on `w3`'s chain, reserved while the caller signs and sends."""

    def __init__(self, w3: Web3, address: str, chain_id: int | None = None, folder: Path | None = None, memory: float = 60.0) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        chain = chain_id if chain_id is not None else int(w3.eth.chain_id)
        self.path = (folder or data_dir() / "nonces") / f"{chain}-{self.address.lower()}.lock"
        self.memory = memory
        with _THREAD_LOCKS_GUARD:
            self._thread_lock = _THREAD_LOCKS.setdefault(str(self.path), threading.Lock())

    @contextmanager
    def reserve(self) -> Iterator[int]:
        """`with manager.reserve() as nonce:` sign and send with `nonce`; leaving the block without an error
        records it as used. Other senders of the key wait meanwhile."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(self.path, "a+") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                nonce = int(self.w3.eth.get_transaction_count(self.address, "pending"))
                last = self._last_sent(handle)
                if last is not None:
                    nonce = max(nonce, last + 1)
                yield nonce
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps({"nonce": nonce, "at": time.time(), "pid": os.getpid()}))
                handle.flush()
            finally:
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _last_sent(self, handle: IO[str]) -> int | None:
        handle.seek(0)
        try:
            record = json.loads(handle.read() or "{}")
        except ValueError:
            return None
        if "nonce" not in record or time.time() - float(record.get("at", 0)) > self.memory:
            return None
        return int(record["nonce"])
