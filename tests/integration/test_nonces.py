"""Two senders of one key (two keeper processes, two threads) never reuse a nonce: "read the nonce, sign,
send" is one critical section per key (a file lock), and a nonce taken meanwhile by a sender outside it is
refused by the node and the next one is tried."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from brownie import accounts, web3
from web3 import Web3

from perp_client import PerpClient, PerpError
from perp_client.client import account_from_key
from perp_ops.console import addresses_of, anvil_key

SHARED = 6  # accounts[6]: no fixture uses it


class SlowSends(requests.Session):
    """Holds each eth_sendRawTransaction `delay` seconds before it reaches the node (a slow link)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def post(self, url: Any, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body = kwargs.get("data") or b""
        if b"eth_sendRawTransaction" in (body if isinstance(body, bytes) else str(body).encode()):
            time.sleep(self.delay)
        return super().post(url, *args, **kwargs)


def shared_key_client(protocol: Any, delay: float = 0.0) -> PerpClient:
    """A client of its own (own connection, own Signer: as a second process would have) with the shared key."""
    w3 = Web3(Web3.HTTPProvider(web3.provider.endpoint_uri, session=SlowSends(delay)))
    return PerpClient(w3, addresses_of(protocol), account_from_key(anvil_key(SHARED)))


def test_two_senders_of_one_key_never_reuse_a_nonce(protocol):
    receiver = accounts[7].address
    before = protocol.quote_token.balanceOf(receiver)
    errors: list[PerpError] = []

    def keeper(client: PerpClient, amount: int) -> None:
        for _ in range(3):
            try:
                client.send(client.token.functions.mint(receiver, amount), "mint")
            except PerpError as exc:  # old code: "nonce too low" for whichever sender came second
                errors.append(exc)

    threads = [threading.Thread(target=keeper, args=(shared_key_client(protocol, 0.2), amount)) for amount in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert protocol.quote_token.balanceOf(receiver) - before == 3 * 1 + 3 * 2


def test_a_nonce_taken_outside_the_lock_is_retried_with_the_next(protocol):
    client = shared_key_client(protocol)
    client.send(client.token.functions.mint(accounts[7].address, 1), "mint")  # a nonce to reuse
    signer = client.signer
    assert signer is not None
    real = signer.nonces.reserve
    stale: list[int] = []

    @contextmanager
    def first_stale(at_least: int = 0) -> Iterator[int]:
        with real(at_least) as nonce:
            if not stale:  # a sender outside this machine used the node's next nonce a moment ago
                stale.append(nonce - 1)
                yield nonce - 1
            else:
                yield nonce

    signer.nonces.reserve = first_stale  # type: ignore[method-assign]
    client.send(client.token.functions.mint(accounts[7].address, 1), "mint")
    assert stale  # the stale nonce was tried first and refused; the next one went through
