"""Thousands of blocks in seconds: one transaction per block, sent over one keep-alive JSON-RPC connection and
mined by `evm_mine` at the block's timestamp (brownie's receipts would take minutes). Blocks may share a
timestamp, as on a chain with sub-second blocks. Whether every transaction did what it should is checked
afterwards from the logs, in one `eth_getLogs` call per event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests
from brownie import web3


class Rpc:
    """JSON-RPC calls to the development node over one HTTP connection."""

    def __init__(self) -> None:
        self.url = web3.provider.endpoint_uri
        self.session = requests.Session()
        self.next_id = 0

    def __call__(self, method: str, *params: Any) -> Any:
        self.next_id += 1
        reply = self.session.post(
            self.url, json={"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": list(params)}, timeout=60
        ).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]


@dataclass(frozen=True)
class Mined:
    """Consecutive blocks, one transaction each, with their timestamps."""

    first_block: int
    timestamps: list[int]

    @property
    def last_block(self) -> int:
        return self.first_block + len(self.timestamps) - 1

    def timestamp(self, block: int) -> int:
        return self.timestamps[block - self.first_block]


def one_per_block(schedule: Iterable[tuple[int, dict[str, Any]]]) -> Mined:
    """Mines each `(timestamp, tx)` (tx: `from`, `to`, `data`) in its own block at that timestamp, in order
    (automine off, then `evm_mine` after each transaction)."""
    rpc = Rpc()
    first = web3.eth.block_number + 1
    timestamps = []
    rpc("evm_setAutomine", False)
    try:
        for ts, tx in schedule:
            rpc("eth_sendTransaction", {"gas": hex(1_500_000), "gasPrice": "0x0", **tx})
            rpc("evm_mine", ts)
            timestamps.append(ts)
    finally:
        rpc("evm_setAutomine", True)
    mined = Mined(first, timestamps)
    assert web3.eth.block_number == mined.last_block
    for block in (mined.first_block, mined.last_block):
        got = web3.eth.get_block(block)
        assert got.timestamp == mined.timestamp(block) and len(got.transactions) == 1, block
    return mined


def events(contract: Any, name: str, mined: Mined) -> list[Any]:
    """Every `name` event `contract` emitted in the mined blocks, decoded, in order."""
    event = web3.eth.contract(address=contract.address, abi=contract.abi).events[name]()
    return list(event.get_logs(from_block=mined.first_block, to_block=mined.last_block))
