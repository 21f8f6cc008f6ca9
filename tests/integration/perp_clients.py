"""perp_client on brownie's test chain: anvil's well-known keys for accounts[i], clients per role."""

from __future__ import annotations

from typing import Any

from brownie import accounts

from perp_client import PerpClient
from perp_ops.console import anvil_key, client_for
from perp_ops.deploy import Deployment

__all__ = ["anvil_key", "client_as"]


def client_as(d: Deployment, account: Any) -> PerpClient:
    """A PerpClient signing as the brownie account `account` (one of accounts[0..9])."""
    index = list(accounts).index(account)
    client = client_for(d, anvil_key(index))
    assert client.address == account.address
    return client
