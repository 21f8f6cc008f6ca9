"""What every brownie entry point (`scripts/*.py`, `make` through tools/brownie.py) does around its work.

- Installs the anvil race patch (perp_ops.anvil_race): without it about one transaction in a thousand is
  declared "dropped without known replacement" although anvil mined it.
- Turns the errors a person can fix into one line and exit status 1 instead of a traceback: a node that does
  not answer (a wrong RPC URL), contracts that are not on the chain any more (a local chain restarted since the
  deployment), and the toolkit's own refusals (PerpError, DeployConfigError).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import requests
from web3.exceptions import ProviderConnectionError

from perp_client.errors import PerpError
from perp_ops import anvil_race
from perp_ops.deploy_config import DeployConfigError

T = TypeVar("T")
CONNECTION_ERRORS = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.HTTPError,
                     ProviderConnectionError)


def _network() -> tuple[str, str, int | None]:
    """(network name, RPC URL, chain id) of brownie's connection, as far as they are known."""
    from brownie import network, web3

    name = network.show_active() or "?"
    url = getattr(web3.provider, "endpoint_uri", None) or "?"
    try:
        chain_id: int | None = web3.eth.chain_id
    except (*CONNECTION_ERRORS, OSError, ValueError):  # the node may be the problem
        chain_id = None
    return name, str(url), chain_id


def connection_reason(exc: BaseException) -> str:
    """A short cause of a failed request: 'connection refused', 'HTTP 401', 'timed out', ..."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}".strip()
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    for needle, reason in (("Connection refused", "connection refused"), ("Name or service not known", "unknown host"),
                           ("nodename nor servname", "unknown host"), ("Temporary failure in name resolution", "unknown host"),
                           ("No route to host", "no route to host")):
        if needle in text:
            return reason
    return text.splitlines()[0][:160] if text else type(exc).__name__


def one_line(exc: BaseException) -> str | None:
    """The one-line message for an error a person can fix; None for anything else (a bug: keep the traceback)."""
    from brownie.exceptions import ContractNotFound

    if isinstance(exc, (PerpError, DeployConfigError)):
        return str(exc)
    if isinstance(exc, CONNECTION_ERRORS):
        name, url, _ = _network()
        return (f"cannot reach the node of network '{name}' at {url} ({connection_reason(exc)}): check the RPC URL "
                "(`brownie networks list`; the *_RPC_URL variables in .env) and that the node runs; nothing was sent")
    if isinstance(exc, ContractNotFound):
        name, _, chain_id = _network()
        return (f"{exc} on network '{name}' (chain {chain_id}): the chain does not hold that deployment any more (a local "
                f"chain restarted or reset since it was deployed?); deploy again (make deploy), or move the stale "
                f"deployments/{chain_id}.json away")
    return None


def brownie_entry(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` as a brownie entry point: anvil race patch installed, fixable errors in one line."""
    anvil_race.install()
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        message = one_line(exc)
        if message is None:
            raise
        raise SystemExit(f"error: {message}") from None
