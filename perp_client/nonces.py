"""Nonces for one key shared by several senders (threads, keeper processes on one machine).

Two keepers that sign with the same key and each ask the node for the next nonce can both get N; the
second transaction is then refused ("nonce too low", "replacement transaction underpriced") or replaces
the first. `NonceManager.reserve()` makes "read the nonce, sign, send" one critical section per (chain,
key): a thread lock inside the process and an exclusive `flock` on `<data dir>/nonces/<chainId>-<address>.lock`
across processes. The node's pending count is read inside it, so the next sender sees the transaction the
previous one sent. A node that has not seen it yet (a load-balanced RPC) refuses the reused nonce, and the
Signer retries with the next one (`perp_client.tx`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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

    def __init__(self, w3: Web3, address: str, chain_id: int | None = None, folder: Path | None = None) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        chain = chain_id if chain_id is not None else int(w3.eth.chain_id)
        self.path = (folder or data_dir() / "nonces") / f"{chain}-{self.address.lower()}.lock"
        with _THREAD_LOCKS_GUARD:
            self._thread_lock = _THREAD_LOCKS.setdefault(str(self.path), threading.Lock())

    @contextmanager
    def reserve(self, at_least: int = 0) -> Iterator[int]:
        """`with manager.reserve() as nonce:` sign and send with `nonce` (the node's pending count, at least
        `at_least`); every other sender of this key on this machine waits until the block is left."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(self.path, "a") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield max(int(self.w3.eth.get_transaction_count(self.address, "pending")), at_least)
            finally:
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
