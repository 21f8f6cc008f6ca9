"""Every privileged function rejects every caller without the privilege.

The tables below are checked against the ABIs in build/contracts/: every state-changing external function of
every deployable contract under contracts/ (test mocks under contracts/test/ aside) must be listed, either as
privileged (with its role, the error a stranger gets and valid arguments) or as public (with the reason anyone
may call it). A function added without a table entry fails `test_every_state_changing_function_is_classified`.

On a timelocked deployment (tests/security/test_governance.py) "owner" is the TimelockController: the same
table is replayed there, every owner function refused to the deployer and allowed through the timelock; the
guardian (none here) may call `pause` and nothing else.

Each privileged function is then called by every account that does not hold its role (for owner-only
functions: the nine other accounts; for ClearingHouse-only ones: those and the owner): each call reverts with
the role's error naming the caller, and changes nothing. The authorised caller, with the same arguments, gets
past the check (an `eth_call` that succeeds or fails with some other error), so the arguments are not what
makes the strangers' calls fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from brownie import (
    Amm,
    ClearingHouseRiskModule,
    LiquidityController,
    MockAggregator,
    accounts,
)
from brownie.exceptions import VirtualMachineError

from perp_ops.deploy import (
    DEFAULT_CONFIG,
    Deployment,
    amm_struct,
    feed_key,
    market_config,
)
from tests.helpers import BUY, reverts_with, wad
from tests.trading import addr, assert_unchanged, capture_state, deposit

BUILD = Path(__file__).resolve().parents[2] / "build" / "contracts"


@dataclass
class Ctx:
    d: Deployment
    owner: Any
    risk_module: Any
    controller: Any
    unlisted: Any
    spare_aggregator: Any

    def contract(self, name: str) -> Any:
        return {
            "Amm": self.d.amm,
            "ClearingHouse": self.d.clearing_house,
            "ClearingHouseRiskModule": self.risk_module,
            "Vault": self.d.vault,
            "InsuranceFund": self.d.insurance_fund,
            "ChainlinkPriceFeed": self.d.price_feed,
            "LiquidityController": self.controller,
        }[name]

    def authorised(self, role: str) -> str:
        return {
            "owner": self.owner.address,
            "owner or controller": self.owner.address,
            "owner or clearing house": self.owner.address,
            "owner or guardian": self.owner.address,
            "clearing house": self.d.clearing_house.address,
            "insurance fund": self.d.insurance_fund.address,
            "keeper or owner": self.controller.keeper(),
        }[role]


ROLE_ERROR = {
    "owner": "OwnableUnauthorizedAccount",
    "owner or controller": "OwnableUnauthorizedAccount",
    "owner or clearing house": "OwnableUnauthorizedAccount",
    "owner or guardian": "OwnableUnauthorizedAccount",
    "clearing house": "OnlyClearingHouse",
    "insurance fund": "OnlyClearingHouse",
    "keeper or owner": "NotKeeper",
}

Args = Callable[[Ctx, Any], tuple[Any, ...]]


def _none(c: Ctx, caller: Any) -> tuple[Any, ...]:
    return ()


def _caller(c: Ctx, caller: Any) -> tuple[Any, ...]:
    return (caller,)


CONTROLLER_PARAMS = (True, wad("0.1"), wad("0.1"), wad("0.01"), wad("0.05"), wad("0.2"), wad(10), wad("0.001"), wad("0.5"), wad(10), wad(10_000))

# (contract, function) -> (role, arguments)
PRIVILEGED: dict[tuple[str, str], tuple[str, Args]] = {
    # Amm: the ClearingHouse trades and settles funding; the owner sets parameters
    ("Amm", "swapInput"): ("clearing house", lambda c, _: (0, wad(10), 0, False)),
    ("Amm", "swapInputGuarded"): ("clearing house", lambda c, _: (0, wad(10), 0)),
    ("Amm", "swapOutput"): ("clearing house", lambda c, _: (0, wad(1), 0, False)),
    ("Amm", "settleFunding"): ("clearing house", _none),
    ("Amm", "resetReserves"): ("clearing house", lambda c, _: (wad(2000), wad(200))),
    ("Amm", "shutdown"): ("owner or clearing house", _none),
    ("Amm", "setOpen"): ("owner", lambda c, _: (False,)),
    ("Amm", "setRatios"): ("owner", lambda c, _: (wad("0.5"), wad("0.1"), wad("0.01"), wad("0.01"))),
    ("Amm", "setCap"): ("owner", lambda c, _: (wad(1), wad(1))),
    ("Amm", "setMaxFundingRate"): ("owner", lambda c, _: (wad("0.01"),)),
    ("Amm", "setSettlementWindow"): ("owner", lambda c, _: (7 * 86_400,)),
    ("Amm", "transferOwnership"): ("owner", _caller),
    ("Amm", "renounceOwnership"): ("owner", _none),
    # ClearingHouse: governance; curve changes by the owner or the liquidity controller
    ("ClearingHouse", "setLiquidityController"): ("owner", _caller),
    ("ClearingHouse", "addAmm"): ("owner", lambda c, _: (c.unlisted,)),
    ("ClearingHouse", "setParams"): ("owner", lambda c, _: (wad("0.1"), wad("0.05"), wad("0.02"), wad("0.5"))),
    ("ClearingHouse", "setFeePool"): ("owner", _caller),
    ("ClearingHouse", "setGuardian"): ("owner", _caller),
    ("ClearingHouse", "pause"): ("owner or guardian", _none),
    ("ClearingHouse", "unpause"): ("owner", _none),
    ("ClearingHouse", "adjustK"): ("owner or controller", lambda c, _: (c.d.amm, wad("1.1"))),
    ("ClearingHouse", "repeg"): ("owner or controller", lambda c, _: (c.d.amm, wad("10.2"))),
    ("ClearingHouse", "transferOwnership"): ("owner", _caller),
    ("ClearingHouse", "renounceOwnership"): ("owner", _none),
    # the risk module called directly (not through the ClearingHouse's DELEGATECALL): its own owner
    ("ClearingHouseRiskModule", "adjustK"): ("owner or controller", lambda c, _: (c.d.amm, wad("1.1"))),
    ("ClearingHouseRiskModule", "repeg"): ("owner or controller", lambda c, _: (c.d.amm, wad("10.2"))),
    ("ClearingHouseRiskModule", "transferOwnership"): ("owner", _caller),
    ("ClearingHouseRiskModule", "renounceOwnership"): ("owner", _none),
    # Vault: the ledger moves only for the ClearingHouse; the fund withdraws its own account
    ("Vault", "settle"): ("clearing house", lambda c, caller: (caller, 0, wad(1), caller, wad(1))),
    ("Vault", "credit"): ("clearing house", lambda c, caller: (caller, wad(1))),
    ("Vault", "debitUpTo"): ("clearing house", lambda c, _: (c.d.insurance_fund, wad(1))),
    ("Vault", "withdrawFor"): ("insurance fund", lambda c, caller: (c.d.insurance_fund, caller, 1)),
    ("Vault", "initialize"): ("owner", lambda c, caller: (caller, caller)),
    ("Vault", "transferOwnership"): ("owner", _caller),
    ("Vault", "renounceOwnership"): ("owner", _none),
    # InsuranceFund
    ("InsuranceFund", "withdraw"): ("owner", lambda c, caller: (caller, 1)),
    ("InsuranceFund", "raiseReserveFloor"): ("owner", lambda c, _: (wad(1),)),
    ("InsuranceFund", "transferOwnership"): ("owner", _caller),
    ("InsuranceFund", "renounceOwnership"): ("owner", _none),
    # ChainlinkPriceFeed
    ("ChainlinkPriceFeed", "addAggregator"): ("owner", lambda c, _: (feed_key("BTC"), c.spare_aggregator, 0)),
    ("ChainlinkPriceFeed", "removeAggregator"): ("owner", lambda c, _: (feed_key("ETH"),)),
    ("ChainlinkPriceFeed", "setSequencerUptimeFeed"): ("owner", lambda c, _: (c.spare_aggregator, 3_600)),
    ("ChainlinkPriceFeed", "transferOwnership"): ("owner", _caller),
    ("ChainlinkPriceFeed", "renounceOwnership"): ("owner", _none),
    # LiquidityController
    ("LiquidityController", "configure"): ("owner", lambda c, _: (c.d.amm, CONTROLLER_PARAMS)),
    ("LiquidityController", "setEnabled"): ("owner", lambda c, _: (c.d.amm, True)),
    ("LiquidityController", "setKeeper"): ("owner", _caller),
    # the keeper (or the owner) times the controller's curve changes: nobody else can place one around a trade
    ("LiquidityController", "update"): ("keeper or owner", lambda c, _: (c.d.amm,)),
    ("LiquidityController", "transferOwnership"): ("owner", _caller),
    ("LiquidityController", "renounceOwnership"): ("owner", _none),
}

# (contract, function) -> why anyone may call it
PUBLIC: dict[tuple[str, str], str] = {
    ("Amm", "growObservations"): "pre-writes empty TWAP slots: the caller pays gas, no observable state changes",
    ("ChainlinkPriceFeed", "checkGuarded"): (
        "a check that caches until when the latest round read stays fresh, derived from the aggregator's own data"
    ),
    ("ClearingHouse", "openPosition"): "trading",
    ("ClearingHouse", "closePosition"): "trading",
    ("ClearingHouse", "addMargin"): "the caller's own position",
    ("ClearingHouse", "removeMargin"): "the caller's own position, within its free collateral",
    ("ClearingHouse", "liquidate"): "anyone may liquidate a position below maintenance",
    ("ClearingHouse", "payFunding"): "anyone, once per funding period",
    ("ClearingHouse", "settlePosition"): "the caller's own position, after a shutdown",
    ("ClearingHouse", "claimSettlement"): "after a shutdown, registers a trader's claim or pays it to the trader's own vault balance",
    ("ClearingHouseRiskModule", "liquidate"): "direct calls act on the module's own, empty storage (see below)",
    ("ClearingHouseRiskModule", "settlePosition"): "direct calls act on the module's own, empty storage",
    ("ClearingHouseRiskModule", "claimSettlement"): "direct calls act on the module's own, empty storage",
    ("Vault", "deposit"): "the caller's own tokens",
    ("Vault", "depositFor"): "the caller's own tokens, credited to someone else",
    ("Vault", "withdraw"): "the caller's own free balance",
    ("InsuranceFund", "deposit"): "anyone may top the fund up",
}


def deployable_abis() -> dict[str, list[dict[str, Any]]]:
    """ABI of every deployable (non-abstract) contract under contracts/, the test mocks aside."""
    abis = {}
    for path in sorted(BUILD.glob("*.json")):
        build = json.loads(path.read_text())
        source = build.get("sourcePath", "")
        if build.get("type") != "contract" or not source.startswith("contracts/") or source.startswith("contracts/test/"):
            continue
        if not build.get("bytecode"):
            continue  # abstract
        abis[build["contractName"]] = build["abi"]
    return abis


def state_changing(abi: list[dict[str, Any]]) -> set[str]:
    return {e["name"] for e in abi if e["type"] == "function" and e["stateMutability"] not in ("view", "pure")}


@pytest.fixture(scope="module")
def ctx(protocol, owner, alice, bob) -> Ctx:
    d = protocol
    ch = d.clearing_house
    unlisted = Amm.deploy(amm_struct(market_config(DEFAULT_CONFIG)), d.price_feed, feed_key("ETH"), ch, owner, {"from": owner})
    controller = LiquidityController.deploy(ch, owner, {"from": owner})
    controller.setKeeper(accounts[4], {"from": owner})
    spare = MockAggregator.deploy(8, 60_000 * 10**8, {"from": owner})
    # some state for a wrongly allowed call to damage: balances, positions, an insurance fund
    for trader in (alice, bob):
        deposit(d, trader, wad(1_000))
    ch.openPosition(d.amm, BUY, wad(10), wad(5), 0, {"from": alice})
    d.quote_token.mint(owner, wad(100), {"from": owner})
    d.quote_token.approve(d.insurance_fund, wad(100), {"from": owner})
    d.insurance_fund.deposit(wad(100), {"from": owner})
    return Ctx(d, owner, ClearingHouseRiskModule.at(ch.riskModule()), controller, unlisted, spare)


def test_every_state_changing_function_is_classified():
    abis = deployable_abis()
    changing = {name for name, abi in abis.items() if state_changing(abi)}  # a read-only contract (Multicall3) has none
    assert changing == {c for c, _ in [*PRIVILEGED, *PUBLIC]}, "a deployable contract has no table entries"
    for name, abi in abis.items():
        functions = state_changing(abi)
        listed = {f for c, f in PRIVILEGED if c == name} | {f for c, f in PUBLIC if c == name}
        assert functions - listed == set(), f"{name}: unclassified {sorted(functions - listed)}"
        assert listed - functions == set(), f"{name}: stale table entries {sorted(listed - functions)}"
    assert not set(PRIVILEGED) & set(PUBLIC)


@pytest.mark.parametrize("key", list(PRIVILEGED), ids=[f"{c}.{f}" for c, f in PRIVILEGED])
def test_privileged_function_rejects_every_other_caller(ctx, key):
    contract_name, function = key
    role, args = PRIVILEGED[key]
    contract = ctx.contract(contract_name)
    fn = getattr(contract, function)
    authorised = ctx.authorised(role)
    strangers = [a for a in accounts[:10] if a.address != authorised and not ("owner" in role and a == ctx.owner)]
    assert len(strangers) >= 8
    holders = list(accounts[:10])
    before = capture_state(ctx.d, holders)
    for caller in strangers:
        with reverts_with(ROLE_ERROR[role], addr(caller)):
            fn(*args(ctx, caller), {"from": caller})
    assert_unchanged(before, capture_state(ctx.d, holders))

    # the authorised caller gets past the check with the same arguments
    try:
        fn.call(*args(ctx, accounts[9]), {"from": authorised})
    except VirtualMachineError as exc:
        assert (exc.revert_msg or "").split(":")[0] != ROLE_ERROR[role], f"authorised caller refused: {exc.revert_msg}"


def test_the_risk_module_called_directly_sees_no_market(ctx, alice, rando):
    """The risk module's public functions run on the caller's storage: called directly, on its own storage,
    where no market is listed, they change nothing of the ClearingHouse."""
    module, amm = ctx.risk_module, ctx.d.amm
    before = capture_state(ctx.d, [alice, rando])
    for call in (
        lambda: module.liquidate(amm, alice, {"from": rando}),
        lambda: module.settlePosition(amm, {"from": alice}),
        lambda: module.claimSettlement(amm, alice, {"from": rando}),
    ):
        with reverts_with("UnknownMarket", addr(amm)):
            call()
    assert_unchanged(before, capture_state(ctx.d, [alice, rando]))
