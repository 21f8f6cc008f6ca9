"""Build, simulate, sign, send and wait: one transaction from a local private key.

Every transaction is first simulated with `eth_call`; a revert becomes a `PerpError` carrying the decoded
custom error, and nothing is sent. The simulation and the gas estimate run on the *pending* block, the block the
transaction will be mined in: at "latest" they would run inside the block of the last trade, where the Amm's
fluctuation limit is measured from that block's opening price, and refuse a trade that the next block accepts
(FluctuationLimitExceeded). A node that does not serve "pending" is asked at "latest".
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import BlockIdentifier, TxReceipt

from perp_client.abi import ErrorDecoder
from perp_client.errors import PerpError
from perp_client.nonces import NonceManager

NONCE_TRIES = 3
GAS_HEADROOM_PCT = 150
GAS_HEADROOM_FIXED = 50_000
PENDING: BlockIdentifier = "pending"


def revert_reason(exc: ContractLogicError, decoder: ErrorDecoder) -> str:
    """The decoded custom error of a revert, else web3's message."""
    data = exc.data
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return decoder.decode(data)
    return str(exc.message or exc)


def simulate_call(fn: ContractFunction, sender: str, label: str, decoder: ErrorDecoder) -> Any:
    """`fn` as an eth_call from `sender` on the pending block (the latest where the node has no pending block);
    a revert raises PerpError('<label>: <decoded reason>')."""
    try:
        try:
            return fn.call({"from": sender}, block_identifier=PENDING)
        except Web3RPCError:  # no pending block on this node (a revert is a ContractLogicError, not this)
            return fn.call({"from": sender})
    except ContractLogicError as exc:
        raise PerpError(f"{label}: {revert_reason(exc, decoder)}") from None


def _nonce_taken(exc: Web3RPCError) -> bool:
    """The node refused the transaction because another transaction of the key has its nonce."""
    text = str(exc.message or exc).lower()
    return any(m in text for m in ("nonce too low", "replacement transaction underpriced", "nonce has already been used"))


def _already_sent(exc: Web3RPCError) -> bool:
    """The node already holds this very transaction (same key, nonce and content: another sender sent it)."""
    text = str(exc.message or exc).lower()
    return "already known" in text or "already imported" in text


class Signer:
    """Sends contract calls as `account`, waiting up to `timeout` seconds for each receipt. Nonces come from a
    NonceManager: several senders of one key (threads, keeper processes on this machine) never reuse one."""

    def __init__(self, w3: Web3, account: LocalAccount, decoder: ErrorDecoder, timeout: float = 120.0) -> None:
        self.w3 = w3
        self.account = account
        self.decoder = decoder
        self.timeout = timeout
        self.nonces = NonceManager(w3, account.address)

    @property
    def address(self) -> str:
        return str(self.account.address)

    def simulate(self, fn: ContractFunction, label: str) -> Any:
        """eth_call as the sender on the pending block; a revert raises PerpError('<label>: <reason>')."""
        return simulate_call(fn, self.address, label, self.decoder)

    def _gas_limit(self, fn: ContractFunction) -> int:
        """The estimate (on the pending block) with head-room: state may move between the estimate and the
        mining (funding, another trade). Unused gas is not charged."""
        try:
            estimate = int(fn.estimate_gas({"from": self.address}, block_identifier=PENDING))
        except Web3RPCError:
            estimate = int(fn.estimate_gas({"from": self.address}))
        block_limit = int(self.w3.eth.get_block("latest")["gasLimit"])
        return min(estimate * GAS_HEADROOM_PCT // 100 + GAS_HEADROOM_FIXED, block_limit)

    def _sign_and_send(self, fn: ContractFunction) -> bytes:
        """Sign with the next nonce and send. A nonce another sender took first (a node that had not seen its
        transaction yet) is refused by the node, and the next nonce is tried, up to NONCE_TRIES times; the very
        same transaction already sent by another sender of the key is that one (its hash is returned)."""
        gas = self._gas_limit(fn)
        at_least = 0
        for attempt in range(NONCE_TRIES):
            with self.nonces.reserve(at_least) as nonce:  # read, sign, send: one sender of this key at a time
                tx = fn.build_transaction({"from": self.address, "nonce": nonce, "chainId": self.w3.eth.chain_id, "gas": gas})
                signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
                try:
                    return bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))
                except Web3RPCError as exc:
                    if _already_sent(exc):
                        return bytes(signed.hash)
                    if attempt + 1 == NONCE_TRIES or not _nonce_taken(exc):
                        raise
                    at_least = nonce + 1
        raise AssertionError("unreachable")

    def send(self, fn: ContractFunction, label: str) -> TxReceipt:
        self.simulate(fn, label)
        try:
            tx_hash = self._sign_and_send(fn)
        except ContractLogicError as exc:
            raise PerpError(f"{label}: {revert_reason(exc, self.decoder)}") from None
        except Web3RPCError as exc:
            raise PerpError(f"{label}: the node refused the transaction: {exc.message or exc}") from None
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.timeout)
        except TimeExhausted:
            raise PerpError(f"{label}: not mined after {self.timeout:.0f} s (tx 0x{tx_hash.hex()})") from None
        if receipt["status"] != 1:
            raise PerpError(f"{label}: transaction 0x{tx_hash.hex()} reverted on chain")
        return receipt
