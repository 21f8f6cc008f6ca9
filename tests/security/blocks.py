"""Several transactions in one block, robust to anvil's receipt race.

Like tests/trading.py's `in_one_block` (automine off, fixed gas limits, descending gas prices so the block keeps
the order, one `evm_mine`), with two differences: the gas limit per transaction is a parameter (anvil's block
holds 12M gas, so small transactions can share a block by the dozen), and a receipt that brownie's confirmation
thread declared dropped (anvil can count a mined transaction's nonce before it serves the transaction, see
perp_ops/anvil_race.py) is fetched again by hash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from brownie import web3
from brownie.network.transaction import Status, TransactionReceipt

from tests.integration.risk_helpers import join_confirmations

Send = Callable[[dict[str, Any]], Any]


def send_in_one_block(sends: list[Send], gas_limit: int = 3_000_000) -> list[Any]:
    """Mine every `send(tx_params)` into one block, in order; returns the receipts (status 0: reverted)."""
    web3.provider.make_request("evm_setAutomine", [False])
    try:
        txs = [
            send({"required_confs": 0, "gas_limit": gas_limit, "allow_revert": True, "gas_price": len(sends) - i})
            for i, send in enumerate(sends)
        ]
        res = web3.provider.make_request("evm_mine", [])
        assert "error" not in res, res
    finally:
        web3.provider.make_request("evm_setAutomine", [True])
    receipts = []
    for tx in txs:
        tx.wait(1)
        if tx.status == Status.Dropped:
            web3.eth.get_transaction_receipt(tx.txid)  # retried by the anvil_race patch until it is served
            tx = TransactionReceipt(tx.txid, silent=True)
            tx.wait(1)
        receipts.append(tx)
    join_confirmations()
    assert len({tx.block_number for tx in receipts}) == 1, "the transactions did not land in one block"
    assert [tx.txindex for tx in receipts] == list(range(len(receipts))), "the block did not keep the order"
    return receipts


def call(fn: Any, *args: Any, sender: Any) -> Send:
    """A `send` for `send_in_one_block`: `fn(*args)` from `sender`."""
    return lambda params: fn(*args, {**params, "from": sender})
