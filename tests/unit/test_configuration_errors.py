"""A refused configuration names its rule (issue 16, item 5): constructors, wiring and owner setters that
used to answer `InvalidParameter` for every rule now say which one failed, with the values; nothing is
deployed or changed. (The margin-ratio setter's rules are in test_clearing_house_errors.py, the Amm's ratios and
settlement window in test_amm.py, the liquidity controller's in test_controller.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from brownie import (
    Amm,
    ClearingHouse,
    ClearingHouseRiskModule,
    InsuranceFund,
    MockERC20,
    Vault,
)

from perp_ops.deploy import DEFAULT_CONFIG, amm_struct, feed_key, market_config
from tests.helpers import WAD, reverts_with, wad
from tests.trading import ZERO_ADDRESS, addr

CAP_UNIT = 10**15


def _amm_config(**overrides: int) -> tuple[int, ...]:
    return amm_struct({**market_config(DEFAULT_CONFIG), **overrides})


def test_vault_names_a_zero_address_and_unsupported_decimals(owner, rando):
    with reverts_with("UnsupportedDecimals", 19):
        Vault.deploy(MockERC20.deploy("Q", "Q", 19, {"from": owner}), owner, {"from": owner})
    vault = Vault.deploy(MockERC20.deploy("Q", "Q", 6, {"from": owner}), owner, {"from": owner})
    with reverts_with("ZeroAddress"):
        vault.initialize(ZERO_ADDRESS, rando, {"from": owner})
    with reverts_with("ZeroAddress"):
        vault.initialize(rando, ZERO_ADDRESS, {"from": owner})
    assert vault.clearingHouse() == ZERO_ADDRESS
    with reverts_with("ZeroAddress"):
        vault.depositFor(ZERO_ADDRESS, 1, {"from": owner})


def test_clearing_house_names_a_zero_address_and_a_foreign_risk_module(protocol, owner):
    d = protocol
    args = (wad("0.1"), wad("0.05"), wad("0.05"), 0, owner)
    with reverts_with("ZeroAddress"):
        ClearingHouseRiskModule.deploy(ZERO_ADDRESS, d.insurance_fund, owner, {"from": owner})
    other_fund = InsuranceFund.deploy(d.vault, owner, {"from": owner})
    foreign_module = ClearingHouseRiskModule.deploy(d.vault, other_fund, owner, {"from": owner})
    with reverts_with("RiskModuleMismatch", addr(foreign_module)):
        ClearingHouse.deploy(d.vault, d.insurance_fund, *args, foreign_module, {"from": owner})


def test_add_amm_names_the_clearing_house_the_amm_belongs_to(protocol, owner, rando):
    d = protocol
    foreign = Amm.deploy(_amm_config(), d.price_feed, feed_key("ETH"), rando, owner, {"from": owner})
    with reverts_with("AmmOfAnotherClearingHouse", addr(foreign), addr(rando)):
        d.clearing_house.addAmm(foreign, {"from": owner})
    assert not d.clearing_house.getMarket(foreign)[0]


@pytest.mark.parametrize(
    "overrides, error",
    [
        ({"quote_asset_reserve": 0}, ("ZeroReserve",)),
        ({"base_asset_reserve": 0}, ("ZeroReserve",)),
        ({"funding_period": 0}, ("ZeroFundingPeriod",)),
        ({"trade_limit_ratio": 0}, ("ZeroTradeLimit",)),
        ({"toll_ratio": WAD + 10**6}, ("RatioAboveOne", WAD + 10**6)),
        ({"max_holding_base_asset": CAP_UNIT + 1}, ("CapNotInUnits", CAP_UNIT + 1, CAP_UNIT)),
    ],
)
def test_amm_constructor_names_the_rule(protocol, owner, overrides: dict[str, int], error: tuple[Any, ...]):
    d = protocol
    with reverts_with(*error):
        Amm.deploy(_amm_config(**overrides), d.price_feed, feed_key("ETH"), d.clearing_house, owner, {"from": owner})


def test_amm_constructor_names_a_zero_address(protocol, owner):
    d = protocol
    with reverts_with("ZeroAddress"):
        Amm.deploy(_amm_config(), ZERO_ADDRESS, feed_key("ETH"), d.clearing_house, owner, {"from": owner})
    with reverts_with("ZeroAddress"):
        Amm.deploy(_amm_config(), d.price_feed, feed_key("ETH"), ZERO_ADDRESS, owner, {"from": owner})


def test_set_cap_names_the_unit_and_the_largest_cap(amm, owner):
    largest = (2**48 - 1) * CAP_UNIT
    with reverts_with("CapNotInUnits", wad(1) + 1, CAP_UNIT):
        amm.setCap(wad(1) + 1, 0, {"from": owner})
    with reverts_with("CapTooLarge", largest + CAP_UNIT, largest):
        amm.setCap(0, largest + CAP_UNIT, {"from": owner})
    assert (amm.maxHoldingBaseAsset(), amm.openInterestNotionalCap()) == (0, 0)
    amm.setCap(largest, largest, {"from": owner})
    assert (amm.maxHoldingBaseAsset(), amm.openInterestNotionalCap()) == (largest, largest)
