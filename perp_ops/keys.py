"""The signing key of the command line and the bots: from the environment or an encrypted keystore, never from
the command line (a key in argv is visible to every user of the machine in `ps`, and stays in shell history).

- `PRIVATE_KEY` (or the variable named by `key_env`) in the environment, else in `.env` at the project root or
  in the current directory;
- or a keystore file (`--keystore PATH`, `$PERP_KEYSTORE`: the JSON of `geth account new`, `cast wallet new`,
  `eth_account.Account.encrypt`, brownie's `~/.brownie/accounts/*.json`), its password from
  `$PERP_KEYSTORE_PASSWORD`, else asked on the terminal (never echoed).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from perp_client import PerpError
from perp_client.paths import project_root

PASSWORD_ENV = "PERP_KEYSTORE_PASSWORD"


def env_value(name: str) -> str:
    """`$name` from the environment, else from `.env` at the project root or in the current directory ('' when unset)."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    for folder in dict.fromkeys((project_root(), Path.cwd())):
        env_file = folder / ".env"
        if env_file.is_file():
            from dotenv import dotenv_values

            value = (dotenv_values(env_file).get(name) or "").strip()
            if value:
                return value
    return ""


def _ask_password(path: Path) -> str:
    if not sys.stdin.isatty():
        raise PerpError(f"the keystore {path} needs a password: set ${PASSWORD_ENV} (no terminal to ask on)")
    import click

    return str(click.prompt(f"password for {path}", hide_input=True, err=True))


def key_from_keystore(path: Path, password: str | None = None, ask: Callable[[Path], str] = _ask_password) -> str:
    """The private key (0x-hex) in an encrypted keystore; one-line PerpError when it cannot be read."""
    from eth_account import Account

    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PerpError(f"no keystore file at {path}") from None
    except (OSError, ValueError) as exc:
        raise PerpError(f"{path} is not a keystore (JSON): {exc}") from None
    secret = password if password is not None else (os.environ.get(PASSWORD_ENV) or ask(path))
    try:
        return "0x" + bytes(Account.decrypt(data, secret)).hex()
    except ValueError as exc:
        reason = "wrong password" if "MAC" in str(exc) or "password" in str(exc).lower() else str(exc)
        raise PerpError(f"cannot decrypt the keystore {path}: {reason}") from None
    except (KeyError, TypeError):
        raise PerpError(f"{path} is not a keystore (no 'crypto' section)") from None


def signing_key(keystore: Path | None = None, key_env: str = "PRIVATE_KEY") -> str | None:
    """The key to sign with: the keystore's when one is given (argument or $PERP_KEYSTORE), else `$key_env`;
    None when there is neither (reading needs no key)."""
    store = keystore or (Path(os.environ["PERP_KEYSTORE"]) if os.environ.get("PERP_KEYSTORE", "").strip() else None)
    if store is not None:
        return key_from_keystore(store)
    return env_value(key_env) or None


def keystore_address(path: Path) -> str | None:
    """The address a keystore file names (most do, unencrypted), without asking for its password."""
    try:
        address = json.loads(path.read_text()).get("address")
    except (OSError, ValueError, AttributeError):
        return None
    if not address:
        return None
    return address if str(address).startswith("0x") else f"0x{address}"
