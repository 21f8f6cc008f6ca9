"""perp_client on brownie's test chain: anvil's well-known keys for accounts[i], clients per role."""

from __future__ import annotations

from functools import cache
from typing import Any

from brownie import accounts
from eth_account import Account

from perp_client import PerpClient
from scripts.deploy import Deployment
from scripts.perp import client_for

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


@cache
def anvil_key(index: int) -> str:
    """The private key anvil gives accounts[index] (its default mnemonic)."""
    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return "0x" + bytes(acct.key).hex()


def client_as(d: Deployment, account: Any) -> PerpClient:
    """A PerpClient signing as the brownie account `account` (one of accounts[0..9])."""
    index = list(accounts).index(account)
    client = client_for(d, anvil_key(index))
    assert client.address == account.address
    return client
