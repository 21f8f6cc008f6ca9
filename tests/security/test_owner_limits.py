"""What even the owner cannot take.

The owner governs parameters and markets, but holds no key to traders' money: the Vault has no owner
withdrawal (tests/security/test_privileged.py lists every function there is), the InsuranceFund withdraws only
from its own Vault account (tests/unit/test_vault.py::test_only_clearing_house_moves_the_ledger), and only its
surplus above a reserve floor that can only rise.
"""

from __future__ import annotations

from tests.helpers import BUY, reverts_with, wad
from tests.integration.risk_helpers import assert_reconciles
from tests.trading import deposit


def test_the_owner_withdraws_only_the_insurance_surplus(protocol, owner, alice, rando):
    d = protocol
    fund, vault, token = d.insurance_fund, d.vault, d.quote_token
    deposit(d, alice, wad(1_000))
    d.clearing_house.openPosition(d.amm, BUY, wad(10), wad(5), 0, {"from": alice})
    token.mint(owner, wad(100), {"from": owner})
    token.approve(fund, wad(100), {"from": owner})
    fund.deposit(wad(100), {"from": owner})
    fund.raiseReserveFloor(wad(60), {"from": owner})
    assert fund.surplus() == wad(40)

    with reverts_with("ExceedsSurplus", wad(40) + 1, wad(40)):
        fund.withdraw(rando, wad(40) + 1, {"from": owner})
    with reverts_with("FloorCannotDecrease", wad(60), wad(60) - 1):
        fund.raiseReserveFloor(wad(60) - 1, {"from": owner})
    fund.withdraw(rando, wad(40), {"from": owner})
    assert token.balanceOf(rando) == wad(40)
    assert fund.surplus() == 0
    with reverts_with("ExceedsSurplus", 1, 0):
        fund.withdraw(rando, 1, {"from": owner})

    # the traders' money is untouched, and everything still reconciles
    assert vault.balanceOfWad(alice) == wad(990)
    assert d.clearing_house.getPosition(d.amm, alice)[1] == wad(10)
    assert_reconciles(d, [alice, owner, rando], exact=False)
