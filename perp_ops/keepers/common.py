"""What the bots share: the Action record, command-line options, the client from them, the loop."""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from web3.exceptions import Web3Exception

from perp_client import PerpClient, PerpError
from perp_ops.keys import signing_key

DEFAULT_RPC = "http://127.0.0.1:8545"


@dataclass(frozen=True)
class Action:
    """One thing a bot did on chain."""

    kind: str  # pay_funding | liquidate | arbitrage
    market: str
    detail: str
    tx_hash: str | None = None

    def __str__(self) -> str:
        tx = f" (tx {self.tx_hash})" if self.tx_hash else ""
        return f"{self.kind} {self.market}: {self.detail}{tx}"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--rpc", default=os.environ.get("RPC_URL", DEFAULT_RPC), help="JSON-RPC URL (default $RPC_URL or %(default)s)")
    p.add_argument("--deployment", type=Path, default=None, help="deployment file (default deployments/<chainId>.json)")
    p.add_argument("--markets", default="", help="comma-separated symbols (default: every market)")
    p.add_argument("--interval", type=float, default=15.0, help="seconds between passes (default %(default)s)")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.add_argument("--key-env", default="PRIVATE_KEY", help="environment variable holding the key (default %(default)s)")
    p.add_argument("--keystore", type=Path, default=None,
                   help="encrypted keystore to sign with instead (password: $PERP_KEYSTORE_PASSWORD, else asked)")
    p.add_argument("-v", "--verbose", action="store_true", help="also log why nothing was done")
    return p


def load_key(var: str, keystore: Path | None = None) -> str:
    """The bot's key: from an encrypted keystore, else `$var` (environment or `.env`); never from the command line."""
    key = signing_key(keystore, var)
    if not key:
        raise PerpError(f"${var} is not set: the bot needs a key to send transactions (or give --keystore)")
    return key


def client_from_args(args: argparse.Namespace) -> tuple[PerpClient, list[str]]:
    """Connect, check the chain and the markets asked for; a PerpError names what is wrong."""
    client = PerpClient.connect(args.rpc, args.deployment, load_key(args.key_env, args.keystore))
    markets = [m.strip().upper() for m in args.markets.split(",") if m.strip()] or client.symbols
    for m in markets:
        client.amm(m)  # unknown market → PerpError
    return client, markets


def run_loop(log: logging.Logger, once: bool, interval: float, step: Callable[[], Sequence[Action]]) -> int:
    """Run `step` every `interval` seconds (once with `once`), logging each action; Ctrl-C stops cleanly."""
    try:
        while True:
            try:
                for action in step():
                    log.info("%s", action)
            except (PerpError, Web3Exception, OSError) as exc:
                log.error("pass failed: %s", exc)
                if once:
                    return 1
            if once:
                return 0
            time.sleep(interval)
    except KeyboardInterrupt:
        log.info("stopped (Ctrl-C)")
        return 0


def setup_logging(name: str, verbose: bool) -> logging.Logger:
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("web3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger(name)


def start(name: str, description: str, argv: Sequence[str] | None, add_args: Callable[[argparse.ArgumentParser], None] | None = None) -> tuple[argparse.Namespace, logging.Logger, PerpClient, list[str]] | int:
    """Parse, log, connect. Returns the exit status 2 (with one error line) when the input is bad."""
    p = parser(description)
    if add_args:
        add_args(p)
    args = p.parse_args(argv)
    log = setup_logging(name, args.verbose)
    try:
        client, markets = client_from_args(args)
    except PerpError as exc:
        log.error("%s", exc)
        return 2
    except (Web3Exception, OSError) as exc:
        log.error("cannot start: %s", exc)
        return 2
    log.info("%s on chain %s as %s, markets %s", name, client.addresses.chain_id, client.address, ", ".join(markets))
    return args, log, client, markets
