"""What every `perp` command shares: the connection options, the signing key, parsing human amounts."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from eth_account import Account
from web3 import Web3

from perp_client import PerpClient, PerpError
from perp_client.units import UnitError, from_units, to_decimal, to_units
from perp_ops.keys import keystore_address, signing_key

DEFAULT_RPC = "http://127.0.0.1:8545"
NO_KEY = ("no key to sign with: set PRIVATE_KEY (in the environment or .env) or give --keystore FILE "
          "(a key is never taken on the command line)")


@dataclass
class Session:
    """The options of one command: where the chain is, which deployment, which key."""

    rpc: str
    deployment: Path | None
    keystore: Path | None

    def client(self, sign: bool = False) -> PerpClient:
        """A client on the chain and deployment; with `sign`, signing with the key (PerpError without one)."""
        key = signing_key(self.keystore) if sign else None
        if sign and not key:
            raise PerpError(NO_KEY)
        return PerpClient.connect(self.rpc, self.deployment, key)

    def own_address(self) -> str | None:
        """The key's address without decrypting anything when a keystore names it; None without a key."""
        store = self.keystore or (Path(os.environ["PERP_KEYSTORE"]) if os.environ.get("PERP_KEYSTORE", "").strip() else None)
        if store is not None:
            named = keystore_address(store)
            if named:
                return Web3.to_checksum_address(named)
        key = signing_key(self.keystore)
        if not key:
            return None
        try:
            return str(Account.from_key(key).address)
        except (ValueError, TypeError):
            raise PerpError("the private key is not valid (expected 32 bytes as hex, 0x-prefixed)") from None

    def trader(self, address: str | None) -> str:
        """`address` checked, else the key's address."""
        if address:
            if not Web3.is_address(address):
                raise PerpError(f"not an address: {address!r}")
            return Web3.to_checksum_address(address)
        own = self.own_address()
        if own is None:
            raise PerpError("whose? give an ADDRESS, or set PRIVATE_KEY / --keystore to use your own")
        return own


def with_session(f: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --rpc, --deployment, --keystore; the command receives a Session first."""

    @functools.wraps(f)
    def wrapper(*args: Any, rpc: str, deployment: Path | None, keystore: Path | None, **kwargs: Any) -> Any:
        return f(Session(rpc, deployment, keystore), *args, **kwargs)

    options = [
        click.option("--rpc", envvar="RPC_URL", default=DEFAULT_RPC, show_default=True, metavar="URL",
                     help="JSON-RPC URL of the node (or $RPC_URL)"),
        click.option("--deployment", envvar="PERP_DEPLOYMENT", type=click.Path(path_type=Path), default=None, metavar="FILE",
                     help="deployment record (default: deployments/<chainId>.json, or one shipped with the package)"),
        click.option("--keystore", envvar="PERP_KEYSTORE", type=click.Path(path_type=Path), default=None, metavar="FILE",
                     help="encrypted keystore to sign with (password: $PERP_KEYSTORE_PASSWORD, else asked); default $PRIVATE_KEY"),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


json_option = click.option("--json", "as_json", is_flag=True, help="print JSON (exact values in human units) instead of tables")


def token_amount(client: PerpClient, text: str, what: str) -> Decimal:
    """A positive amount of the collateral token, at most its decimals ('100.5'; '0.1234567' is refused for 6)."""
    decimals = client.token_decimals
    try:
        value = to_units(text, decimals)
    except UnitError as exc:
        raise PerpError(f"{what}: {exc} (the collateral token has {decimals})" if "decimals" in str(exc) else f"{what}: {exc}") from None
    if value <= 0:
        raise PerpError(f"{what} must be positive, got {text}")
    return from_units(value, decimals)


def positive(text: str, what: str, decimals: int = 18) -> Decimal:
    """A positive human number with at most `decimals` decimals."""
    try:
        value = to_units(text, decimals)
    except UnitError as exc:
        raise PerpError(f"{what}: {exc}") from None
    if value <= 0:
        raise PerpError(f"{what} must be positive, got {text}")
    return from_units(value, decimals)


def fraction(text: str, what: str, upper: Decimal = Decimal("0.5")) -> Decimal:
    """'1%', '0.5 %' or '0.01' as a fraction in [0, upper]."""
    raw = text.strip()
    percent = raw.endswith("%")
    try:
        value = to_decimal(raw.rstrip("%").strip())
    except UnitError:
        raise PerpError(f"{what}: not a number: {text!r}") from None
    if percent:
        value /= 100
    if not 0 <= value <= upper:
        raise PerpError(f"{what} must be between 0 and {(upper * 100).normalize():f} %, got {text}")
    return value
