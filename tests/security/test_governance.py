"""Governance (SPEC §9): a TimelockController owns every contract, a guardian can pause and nothing else.

`deploy_protocol(config={"timelock_delay": N})` (N > 0) ends with every protocol contract owned by an OpenZeppelin
TimelockController that administers itself (no admin). Here its proposer (and executor) is a `governor`
account, the deployer is neither, and a separate account is the guardian. Checked:
- every owner function of tests/security/test_privileged.py's table is refused to the deployer and to the
  guardian, and gets past the owner check when the timelock calls it (who may call what, through the timelock);
- a parameter change scheduled through the timelock is refused before its delay and executed after it;
  a schedule shorter than the minimum delay is refused; a cancelled operation never executes;
- the guardian pauses; it cannot unpause, change a parameter or name another guardian;
- unknown config keys and a timelock delay under 24 h on a mainnet chain id are refused before anything is sent.
"""

from __future__ import annotations

from typing import Any

import pytest
from brownie import (
    Amm,
    ClearingHouseRiskModule,
    LiquidityController,
    MockAggregator,
    accounts,
    chain,
    web3,
)
from brownie.exceptions import VirtualMachineError

from perp_ops.deploy import (
    DEFAULT_CONFIG,
    ZERO_ADDRESS,
    amm_struct,
    deploy_protocol,
    feed_key,
    market_config,
    owned_contracts,
)
from perp_ops.deploy_config import (
    MIN_MAINNET_TIMELOCK_DELAY,
    DeployConfigError,
    check_timelock_delay,
)
from tests.helpers import BUY, reverts_with, wad
from tests.security.test_privileged import PRIVILEGED, Ctx
from tests.trading import addr, assert_unchanged, capture_state, deposit

DELAY = 3_600
SALT = "0x" + "00" * 31 + "01"
NO_PREDECESSOR = "0x" + "00" * 32


@pytest.fixture(scope="module")
def guardian():
    return accounts[6]


@pytest.fixture(scope="module")
def governor():
    """The timelock's proposer, canceller and executor (on a live network: a multisig)."""
    return accounts[7]


@pytest.fixture(scope="module")
def governed(owner, guardian, governor):
    return deploy_protocol(
        {
            "timelock_delay": DELAY,
            "guardian": guardian.address,
            "timelock_proposers": [governor.address],
        },
        deployer=owner,
    )


@pytest.fixture(scope="module")
def gctx(governed, owner, alice, bob) -> Ctx:
    """test_privileged's context on the timelocked deployment: the owner is the timelock."""
    d, tl = governed, governed.timelock
    ch = d.clearing_house
    unlisted = Amm.deploy(
        amm_struct(market_config(DEFAULT_CONFIG)),
        d.price_feed,
        feed_key("ETH"),
        ch,
        tl,
        {"from": owner},
    )
    controller = LiquidityController.deploy(ch, tl, {"from": owner})
    spare = MockAggregator.deploy(8, 60_000 * 10**8, {"from": owner})
    for trader in (alice, bob):
        deposit(d, trader, wad(1_000))
    ch.openPosition(d.amm, BUY, wad(10), wad(5), 0, {"from": alice})
    return Ctx(
        d, tl, ClearingHouseRiskModule.at(ch.riskModule()), controller, unlisted, spare
    )


def schedule(d: Any, target: Any, data: str, by: Any, delay: int = DELAY) -> str:
    """Schedule one call through the timelock; returns the operation id."""
    d.timelock.schedule(target, 0, data, NO_PREDECESSOR, SALT, delay, {"from": by})
    return str(d.timelock.hashOperation(target, 0, data, NO_PREDECESSOR, SALT))


def execute(d: Any, target: Any, data: str, by: Any) -> Any:
    return d.timelock.execute(target, 0, data, NO_PREDECESSOR, SALT, {"from": by})


def test_the_timelock_owns_everything_and_administers_itself(
    governed, owner, guardian, governor
):
    d, tl = governed, governed.timelock
    assert tl.getMinDelay() == DELAY
    for contract in owned_contracts(d):
        assert contract.owner() == tl, (
            f"{contract._name} is owned by {contract.owner()}"
        )
    assert d.clearing_house.guardian() == guardian
    admin, proposer, executor, canceller = (
        tl.DEFAULT_ADMIN_ROLE(),
        tl.PROPOSER_ROLE(),
        tl.EXECUTOR_ROLE(),
        tl.CANCELLER_ROLE(),
    )
    assert tl.hasRole(admin, tl)
    for account in (owner, guardian):
        for role in (admin, proposer, executor, canceller):
            assert not tl.hasRole(role, account), f"{account} holds a timelock role"
    for role in (proposer, executor, canceller):
        assert tl.hasRole(role, governor)
    assert all(a.open() for a in d.amms.values())


OWNER_FUNCTIONS = [k for k, (role, _) in PRIVILEGED.items() if role.startswith("owner")]


@pytest.mark.parametrize(
    "key", OWNER_FUNCTIONS, ids=[f"{c}.{f}" for c, f in OWNER_FUNCTIONS]
)
def test_the_deployer_and_the_guardian_have_no_owner_power(gctx, owner, guardian, key):
    contract_name, function = key
    _, args = PRIVILEGED[key]
    fn = getattr(gctx.contract(contract_name), function)
    strangers = [owner] if key == ("ClearingHouse", "pause") else [owner, guardian]
    before = capture_state(gctx.d, [owner, guardian])
    for caller in strangers:
        with reverts_with("OwnableUnauthorizedAccount", addr(caller)):
            fn(*args(gctx, caller), {"from": caller})
    assert_unchanged(before, capture_state(gctx.d, [owner, guardian]))
    # the timelock (the owner) gets past the check with the same arguments
    try:
        fn.call(*args(gctx, accounts[9]), {"from": gctx.d.timelock.address})
    except VirtualMachineError as exc:
        assert (exc.revert_msg or "").split(":")[0] != "OwnableUnauthorizedAccount", (
            f"timelock refused: {exc.revert_msg}"
        )


def test_a_parameter_change_waits_for_the_delay(governed, governor, owner):
    d, ch = governed, governed.clearing_house
    new = (wad("0.1"), wad("0.06"), wad("0.02"), wad("0.5"))
    data = ch.setParams.encode_input(*new)
    with reverts_with("TimelockInsufficientDelay", DELAY - 1, DELAY):
        d.timelock.schedule(
            ch, 0, data, NO_PREDECESSOR, SALT, DELAY - 1, {"from": governor}
        )
    with reverts_with("AccessControlUnauthorizedAccount"):
        d.timelock.schedule(ch, 0, data, NO_PREDECESSOR, SALT, DELAY, {"from": owner})
    op = schedule(d, ch, data, governor)
    assert d.timelock.isOperationPending(op) and not d.timelock.isOperationReady(op)
    with reverts_with("TimelockUnexpectedOperationState"):
        execute(d, ch, data, governor)
    chain.sleep(DELAY - 60)
    chain.mine()
    with reverts_with("TimelockUnexpectedOperationState"):
        execute(d, ch, data, governor)
    assert ch.initMarginRatio() == DEFAULT_CONFIG["init_margin_ratio"]
    chain.sleep(60)
    chain.mine()
    with reverts_with("AccessControlUnauthorizedAccount"):
        execute(d, ch, data, owner)
    execute(d, ch, data, governor)
    assert d.timelock.isOperationDone(op)
    assert (
        ch.initMarginRatio(),
        ch.maintenanceMarginRatio(),
        ch.liquidationFeeRatio(),
    ) == new[:3]


def test_a_cancelled_change_never_executes(governed, governor, guardian):
    d, ch = governed, governed.clearing_house
    data = ch.setGuardian.encode_input(ZERO_ADDRESS)
    op = schedule(d, ch, data, governor)
    with reverts_with("AccessControlUnauthorizedAccount"):
        d.timelock.cancel(op, {"from": guardian})
    d.timelock.cancel(op, {"from": governor})
    chain.sleep(DELAY)
    chain.mine()
    with reverts_with("TimelockUnexpectedOperationState"):
        execute(d, ch, data, governor)
    assert ch.guardian() == guardian


def test_the_guardian_pauses_and_does_nothing_else(governed, guardian, governor, rando):
    d, ch = governed, governed.clearing_house
    with reverts_with("OwnableUnauthorizedAccount", addr(rando)):
        ch.pause({"from": rando})
    tx = ch.pause({"from": guardian})
    assert tx.events["Paused"]["account"] == guardian
    assert ch.paused()
    for call in (
        lambda: ch.unpause({"from": guardian}),
        lambda: ch.setParams(
            wad("0.1"), wad("0.06"), wad("0.02"), wad("0.5"), {"from": guardian}
        ),
        lambda: ch.setGuardian(rando, {"from": guardian}),
        lambda: d.amm.setOpen(False, {"from": guardian}),
        lambda: d.insurance_fund.withdraw(guardian, 1, {"from": guardian}),
    ):
        with reverts_with("OwnableUnauthorizedAccount", addr(guardian)):
            call()
    assert ch.paused()
    # unpausing is the timelock's decision, after its delay
    data = ch.unpause.encode_input()
    schedule(d, ch, data, governor)
    chain.sleep(DELAY)
    chain.mine()
    execute(d, ch, data, governor)
    assert not ch.paused()


def test_without_a_delay_the_deployer_stays_owner_and_no_timelock_is_deployed(
    protocol, owner
):
    assert protocol.timelock is None
    assert protocol.clearing_house.owner() == owner
    assert protocol.clearing_house.guardian() == ZERO_ADDRESS


@pytest.mark.parametrize(
    ("config", "cause"),
    [
        (
            {"timelock_dealy": 3_600},
            "unknown deploy_protocol config key(s): timelock_dealy",
        ),
        (
            {"markets": {"BTC": {"index_prise": 1}}},
            "unknown key(s) for market BTC: index_prise",
        ),
        ({"timelock_delay": -1}, "timelock_delay is -1: it must be >= 0 seconds"),
    ],
)
def test_bad_config_is_refused_before_anything_is_sent(owner, config, cause):
    nonce = owner.nonce
    with pytest.raises(
        DeployConfigError, match=cause.replace("(", r"\(").replace(")", r"\)")
    ):
        deploy_protocol(config, deployer=owner)
    assert owner.nonce == nonce


@pytest.mark.parametrize("chain_id", [1, 10, 42161, 8453])
def test_a_mainnet_timelock_waits_at_least_a_day(chain_id):
    with pytest.raises(DeployConfigError, match="at least 86400 s"):
        check_timelock_delay(MIN_MAINNET_TIMELOCK_DELAY - 1, chain_id)
    check_timelock_delay(MIN_MAINNET_TIMELOCK_DELAY, chain_id)


def test_a_local_chain_accepts_any_delay():
    for delay in (0, 1, DELAY):
        check_timelock_delay(delay, web3.eth.chain_id)
