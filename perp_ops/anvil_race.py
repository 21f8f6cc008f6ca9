"""Work around a race between anvil and brownie's confirmation loop.

Right after anvil automines a transaction, `eth_getTransactionCount` may already count it while
`eth_getTransactionReceipt` (or `eth_getTransactionByHash`) does not find it yet (foundry-rs/foundry#10944).
Brownie reads the nonce first and then the receipt, and on that combination declares the transaction
dropped ("Tx dropped without known replacement") although it was mined. On a busy machine this hits about
once per thousand transactions.

`install()` makes both lookups retry for up to ~2 s before reporting "not found", on web3's `Eth` class, so
that it holds for every web3 instance and survives reconnections; `uninstall()` restores the originals.
Nothing changes when the transaction is found at once.
"""

from __future__ import annotations

import time
from typing import Any

from web3.eth import Eth
from web3.exceptions import TransactionNotFound

RETRIES = 40
DELAY = 0.05
_PATCHED = ("get_transaction_receipt", "get_transaction")

_originals: dict[str, Any] = {}


def _with_retry(name: str, method: Any) -> Any:
    def lookup(self: Eth, txid: Any) -> Any:
        bound = method.__get__(self, type(self))
        for _ in range(RETRIES):
            try:
                return bound(txid)
            except TransactionNotFound:
                time.sleep(DELAY)
        return bound(txid)

    lookup.__name__ = name
    return lookup


def install() -> None:
    """Wrap `Eth.get_transaction_receipt` and `Eth.get_transaction` with a short retry (idempotent)."""
    if _originals:
        return
    for name in _PATCHED:
        original = Eth.__dict__[name]
        _originals[name] = original
        setattr(Eth, name, _with_retry(name, original))


def uninstall() -> None:
    """Restore the original lookups."""
    for name, original in _originals.items():
        setattr(Eth, name, original)
    _originals.clear()
