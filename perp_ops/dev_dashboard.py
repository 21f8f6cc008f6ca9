"""`make dashboard`: the dashboard on a local chain, ready to click through.

Deploys the demo markets (DEMO_CONFIG: ETH and BTC) unless the chain already holds the deployment recorded
in deployments/<chainId>.json, lets two traders open positions so that the markets have a history, runs
the keepers (funding, liquidator, arbitrageur) in the background every 15 s, and serves the page with
the development wallet (anvil's unlocked accounts) until Ctrl-C. `DASHBOARD_PORT` sets the port (8080).
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from contextlib import redirect_stdout

from brownie import accounts, network, web3
from web3 import Web3

from perp_client import PerpClient, PerpError
from perp_client.client import account_from_key
from perp_client.deployment import deployment_path, load_addresses
from perp_dashboard.server import serve
from perp_ops import anvil_race
from perp_ops.console import anvil_key, record_dev_deployment
from perp_ops.deploy import DEMO_CONFIG, deploy_protocol
from perp_ops.keepers import arbitrageur, funding, liquidator

KEEPER_INTERVAL = 15.0
KEEPER_ACCOUNT = 9
log = logging.getLogger("dashboard")


def deployed_here() -> bool:
    """Whether deployments/<chainId>.json names contracts that exist on this chain."""
    path = deployment_path(web3.eth.chain_id)
    try:
        addresses = load_addresses(path)
    except PerpError:
        return False
    return all(web3.eth.get_code(a) for a in (addresses.vault, addresses.clearing_house, *addresses.amms.values()))


def seed(client_of: dict[int, PerpClient]) -> None:
    """Two traders, one long ETH and one short BTC, so that the page has positions and history to show."""
    for index, symbol, side in ((2, "ETH", "long"), (3, "BTC", "short")):
        c = client_of[index]
        c.send(c.token.functions.mint(c.address, 50_000 * 10**c.token_decimals), "mint")
        c.deposit(20_000)
        c.open_position(symbol, side, 2_000, 4)


def keepers(client: PerpClient, stop: threading.Event) -> None:
    """A few keeper passes, then one every KEEPER_INTERVAL seconds until `stop`."""
    state = liquidator.LiquidatorState()
    while not stop.is_set():
        for name, run in (("funding", lambda: funding.run_once(client)), ("liquidator", lambda: liquidator.run_once(client, state)),
                          ("arbitrageur", lambda: arbitrageur.run_once(client))):
            try:
                for action in run():
                    log.info("keeper %s: %s", name, action)
            except (PerpError, OSError, ValueError) as exc:
                log.warning("keeper %s: %s", name, exc)
        stop.wait(KEEPER_INTERVAL)


def main() -> None:
    anvil_race.install()
    logging.basicConfig(format="%(asctime)s %(name)s %(message)s", level=logging.INFO)
    for noisy in ("web3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if network.show_active() not in ("development",) and not os.environ.get("DASHBOARD_ANY_NETWORK"):
        raise SystemExit("make dashboard runs on the local development chain; for another network run `python -m perp_dashboard --rpc URL`")
    fresh = not deployed_here()
    if fresh:
        print("dashboard: deploying the demo markets (ETH, BTC) to the local chain…", flush=True)
        with redirect_stdout(io.StringIO()):  # brownie's per-transaction lines
            d = deploy_protocol(DEMO_CONFIG, deployer=accounts[0])
        print(f"dashboard: recorded {record_dev_deployment(d)}", flush=True)
    else:
        print(f"dashboard: reusing the deployment in {deployment_path(web3.eth.chain_id)}", flush=True)
    rpc = web3.provider.endpoint_uri
    addresses = load_addresses(deployment_path(web3.eth.chain_id))
    clients = {i: PerpClient(Web3(Web3.HTTPProvider(rpc)), addresses, account_from_key(anvil_key(i))) for i in (2, 3, KEEPER_ACCOUNT)}
    if fresh:
        seed(clients)
    stop = threading.Event()
    threading.Thread(target=keepers, args=(clients[KEEPER_ACCOUNT], stop), daemon=True).start()
    try:
        serve(rpc, port=int(os.environ.get("DASHBOARD_PORT", "8080")), dev_wallet=True)
    finally:
        stop.set()
        time.sleep(0.1)

