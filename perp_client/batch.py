"""Many view calls in few round trips: Multicall3's `aggregate3`, one `eth_call` per page of calls.

    reader = BatchReader(w3, multicall_address)
    block, outcomes = reader.read([ch.functions.getMarginRatio(amm, t) for t in traders])
    ratios = {t: o.value for t, o in zip(traders, outcomes) if o.ok}

Every call may fail on its own (`allowFailure`): a trader who closed in the meantime is one failed
`Outcome` (with its revert data), not a failed batch. The pages of one `read` are pinned to the block the
first page was read at, so the whole answer is one block's state. A page that runs out of gas (a node caps
`eth_call` gas: anvil at the block gas limit, geth at 50M by default) is split in two and the reader
remembers the smaller page size.

The multicall is the canonical Multicall3 where it is deployed (0xcA11bde0…, on Ethereum and the L2s),
else the read-only equivalent in contracts/periphery/Multicall3.sol that `deploy_protocol` deploys. Without
either, each call is its own `eth_call` (same answers, one round trip each).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak
from eth_utils.abi import get_abi_input_types, get_abi_output_types
from web3 import Web3
from web3._utils.abi import map_abi_data
from web3._utils.normalizers import BASE_RETURN_NORMALIZERS
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, Web3Exception
from web3.types import BlockIdentifier

CANONICAL_MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"
DEFAULT_PAGE = 500  # calls per eth_call before any split: ~25k gas each fits a 12M-gas anvil call

# The part of Multicall3's interface the reader uses (same signatures as the canonical contract).
MULTICALL3_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "aggregate3",
        "stateMutability": "view",
        "inputs": [
            {
                "name": "calls",
                "type": "tuple[]",
                "components": [
                    {"name": "target", "type": "address"},
                    {"name": "allowFailure", "type": "bool"},
                    {"name": "callData", "type": "bytes"},
                ],
            }
        ],
        "outputs": [
            {
                "name": "returnData",
                "type": "tuple[]",
                "components": [{"name": "success", "type": "bool"}, {"name": "returnData", "type": "bytes"}],
            }
        ],
    },
    {
        "type": "function",
        "name": "getBlockNumber",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "blockNumber", "type": "uint256"}],
    },
    {
        "type": "function",
        "name": "getCurrentBlockTimestamp",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "timestamp", "type": "uint256"}],
    },
]


@dataclass(frozen=True)
class Outcome:
    """One call's answer: `value` (decoded like web3's `call()`: one output as is, several as a tuple)
    when `ok`, else the revert data in `error` (empty when the call reverted without data)."""

    ok: bool
    value: Any = None
    error: bytes = b""


class PageTooLarge(Exception):
    """A page of calls did not fit in one eth_call (gas, response size). `shrink`: the node refused it, so
    later pages are made smaller too."""

    def __init__(self, message: str, shrink: bool) -> None:
        super().__init__(message)
        self.shrink = shrink


AGGREGATE3 = keccak(text="aggregate3((address,bool,bytes)[])")[:4]


@lru_cache(maxsize=256)
def _types(abi_json: str, inputs: bool) -> tuple[str, ...]:
    abi = json.loads(abi_json)
    return tuple(get_abi_input_types(abi) if inputs else get_abi_output_types(abi))


def _abi_types(fn: ContractFunction, inputs: bool) -> tuple[str, ...]:
    return _types(json.dumps(fn.abi, sort_keys=True), inputs)


def _calldata(fn: ContractFunction) -> bytes:
    """The call's ABI encoding, straight through eth-abi (web3.py's own path validates and normalises every
    argument recursively: ~7 ms a call, most of a 1,000-trader pass)."""
    types = _abi_types(fn, inputs=True)
    args = list(fn.args or ())
    if any(t.startswith("(") for t in types) or fn.kwargs:
        return bytes.fromhex(fn._encode_transaction_data()[2:])
    raw = [bytes.fromhex(a[2:]) if t == "address" and isinstance(a, str) else a for t, a in zip(types, args, strict=True)]
    return bytes.fromhex(fn.selector[2:]) + abi_encode(list(types), raw)


def _decode(w3: Web3, fn: ContractFunction, data: bytes) -> Any:
    types = _abi_types(fn, inputs=False)
    values = abi_decode(list(types), data)
    if any("address" in t for t in types):
        values = map_abi_data(BASE_RETURN_NORMALIZERS, list(types), values)
    return values[0] if len(values) == 1 else tuple(values)


def find_multicall(w3: Web3, recorded: str | None) -> str | None:
    """The multicall to read through: the deployment's, else the canonical Multicall3 if it has code here."""
    if recorded:
        return Web3.to_checksum_address(recorded)
    if w3.eth.get_code(Web3.to_checksum_address(CANONICAL_MULTICALL3)):
        return CANONICAL_MULTICALL3
    return None


class BatchReader:
    """Reads view calls through a Multicall3 at `address` (None: one eth_call per call)."""

    def __init__(self, w3: Web3, address: str | None, page: int = DEFAULT_PAGE, gas: int | None = None) -> None:
        self.w3 = w3
        self.address = address
        self.page = max(page, 1)
        self.gas = gas  # gas of each eth_call (None: the node's default, usually its cap)
        self._multicall = w3.eth.contract(address=Web3.to_checksum_address(address), abi=MULTICALL3_ABI) if address else None

    def timestamp_call(self) -> ContractFunction | None:
        """The multicall's `getCurrentBlockTimestamp()`, to read the block time in the same batch."""
        return self._multicall.functions.getCurrentBlockTimestamp() if self._multicall is not None else None

    def read(self, calls: Sequence[ContractFunction], block: BlockIdentifier = "latest") -> tuple[int, list[Outcome]]:
        """Every call's outcome, in order, all read at one block; returns (that block's number, outcomes).

        Round trips: ceil(len(calls) / page) with a multicall (at least one: it also reads the block
        number), len(calls) + 1 without."""
        if self._multicall is None:
            return self._read_one_by_one(calls, block)
        first = list(calls[: self.page])
        number_call = self._multicall.functions.getBlockNumber()
        pinned: BlockIdentifier
        outcomes: list[Outcome] = []
        head = self._page([number_call, *first], block)
        if not head[0].ok:
            raise Web3Exception("the multicall did not answer getBlockNumber")
        pinned = int(head[0].value)
        outcomes.extend(head[1:])
        rest = list(calls[len(first) :])
        while rest:
            chunk, rest = rest[: self.page], rest[self.page :]
            outcomes.extend(self._page(chunk, pinned))
        return pinned, outcomes

    def _page(self, calls: list[ContractFunction], block: BlockIdentifier) -> list[Outcome]:
        """One aggregate3, split in halves (recursively) when it does not fit."""
        try:
            return self._aggregate(calls, block)
        except PageTooLarge as exc:
            if len(calls) <= 2:
                raise
            if exc.shrink:
                self.page = max(min(self.page, len(calls) // 2), 1)
            half = len(calls) // 2
            return self._page(calls[:half], block) + self._page(calls[half:], block)

    def _aggregate(self, calls: list[ContractFunction], block: BlockIdentifier) -> list[Outcome]:
        assert self._multicall is not None
        request = [(bytes.fromhex(fn.address[2:]), True, _calldata(fn)) for fn in calls]
        tx: dict[str, Any] = {"to": self._multicall.address, "data": AGGREGATE3 + abi_encode(["(address,bool,bytes)[]"], [request])}
        if self.gas:
            tx["gas"] = self.gas
        try:
            answer = self.w3.eth.call(tx, block)  # type: ignore[arg-type]
            raw = abi_decode(["(bool,bytes)[]"], answer)[0]
        except (ContractLogicError, ValueError, Web3Exception) as exc:
            # every call allows failure: the batch itself failing means it did not fit (gas, size)
            if len(calls) > 2:
                raise PageTooLarge(str(exc), shrink=True) from exc
            raise
        outcomes = []
        suspect = False
        for fn, (success, data) in zip(calls, raw, strict=True):
            if not success:
                outcomes.append(Outcome(False, error=bytes(data)))
                suspect = suspect or not data
                continue
            try:
                outcomes.append(Outcome(True, _decode(self.w3, fn, bytes(data))))
            except (DecodingError, ValueError, TypeError):  # not the answer the ABI describes (e.g. no code at the target)
                outcomes.append(Outcome(False, error=b""))
        # a call that ran out of gas fails without revert data, and so may every call after it: read the
        # page again in halves (a view that really reverts without data is then reported as such)
        if suspect and len(calls) > 2:
            raise PageTooLarge("a call failed without revert data (out of gas?)", shrink=False)
        return outcomes

    def _read_one_by_one(self, calls: Sequence[ContractFunction], block: BlockIdentifier) -> tuple[int, list[Outcome]]:
        pinned = int(self.w3.eth.block_number) if block == "latest" else block
        assert isinstance(pinned, int)
        outcomes = []
        for fn in calls:
            try:
                outcomes.append(Outcome(True, fn.call(block_identifier=pinned)))
            except ContractLogicError as exc:
                data = exc.data if isinstance(exc.data, str) and exc.data.startswith("0x") else "0x"
                outcomes.append(Outcome(False, error=bytes.fromhex(data[2:])))
        return pinned, outcomes
