"""Deploy and configure the automatic liquidity controller (contracts/LiquidityController.sol).

`deploy_controller(d, {"ETH": ControllerParams(...)}, keeper=bot)` deploys it for the ClearingHouse of a
`Deployment`, makes it the ClearingHouse's `liquidityController`, names the keeper that may call `update` and
configures the given markets. Values are wad ints.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import Any

from brownie import LiquidityController

WAD = 10**18
UINT128_MAX = 2**128 - 1


@dataclass(frozen=True)
class ControllerParams:
    """`ILiquidityController.Params`, field for field (see the interface's NatSpec)."""

    enabled: bool = True
    max_step: int = 2 * 10**16  # 2 % of k per update at most
    max_repeg_step: int = 10**16  # 1 % of the price per update at most
    gap_band: int = 10**16  # deepen when |mark − index| / index > 1 % ...
    repeg_band: int = 2 * 10**16  # repeg when it is > 2 %
    imbalance_band: int = 10**17  # ... and |net position| / base reserve <= 10 %
    flow_target: int = 0  # 0: deepening takes the whole step whatever the flow
    funding_band: int = 0  # shrink on any funding the InsuranceFund pays
    budget_share_of_fees: int = 5 * 10**17  # 50 % of the InsuranceFund's income
    min_base_reserve: int = 1
    max_base_reserve: int = UINT128_MAX

    def as_tuple(self) -> tuple[Any, ...]:
        return astuple(self)


def deploy_controller(d: Any, markets: dict[str, ControllerParams], owner: Any = None, keeper: Any = None) -> Any:
    """Deploy the controller, set it as the ClearingHouse's liquidity controller, name `keeper` the account that
    may call `update` (besides the owner; None: the owner only), configure `markets`."""
    owner = owner or d.owner
    tx = {"from": owner}
    controller = LiquidityController.deploy(d.clearing_house, owner, tx)
    d.clearing_house.setLiquidityController(controller, tx)
    if keeper is not None:
        controller.setKeeper(keeper, tx)
    for symbol, params in markets.items():
        controller.configure(d.amms[symbol], params.as_tuple(), tx)
    return controller
