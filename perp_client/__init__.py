"""Python client for the vAMM perpetual protocol: plain web3.py + eth-abi, no brownie.

    from perp_client import PerpClient
    client = PerpClient.connect("http://127.0.0.1:8545", private_key=os.environ["PRIVATE_KEY"])
    print(client.market("ETH").table())
    q = client.quote_open("ETH", "long", margin=100, leverage=5)
    client.deposit(200); client.open_position("ETH", "long", 100, 5)

ABIs come from the brownie build (`build/contracts/*.json`); addresses from `deployments/<chainId>.json`.
"""

from perp_client.client import PerpClient
from perp_client.deployment import Addresses, deployment_path, load_addresses
from perp_client.errors import PerpError
from perp_client.models import (
    Market,
    Position,
    PositionChanged,
    PositionLiquidated,
    Quote,
    Side,
    TxResult,
)
from perp_client.quote import Holding, Pool, liquidation_price, simulate_open
from perp_client.units import WAD, from_wad, to_wad

__all__ = [
    "WAD",
    "Addresses",
    "Holding",
    "Market",
    "PerpClient",
    "PerpError",
    "Pool",
    "Position",
    "PositionChanged",
    "PositionLiquidated",
    "Quote",
    "Side",
    "TxResult",
    "deployment_path",
    "from_wad",
    "liquidation_price",
    "load_addresses",
    "simulate_open",
    "to_wad",
]
