"""The vault's books: what it holds against what it owes (free balances, the fund, every market's collateral)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from brownie.exceptions import VirtualMachineError

ZERO_ADDRESS = "0x" + "0" * 40


def vault_assets_wad(d: Any) -> int:
    """The vault's token balance in wad."""
    return d.quote_token.balanceOf(d.vault) * d.vault.scale()


def vault_liabilities_wad(d: Any, holders: Iterable[Any]) -> int:
    """Σ free balances of `holders` + the InsuranceFund + the fee pool + Σ booked market collateral (wad)."""
    total = sum(d.vault.balanceOfWad(h) for h in holders)
    total += d.vault.balanceOfWad(d.insurance_fund)
    fee_pool = d.clearing_house.feePool()
    if fee_pool != ZERO_ADDRESS:
        total += d.vault.balanceOfWad(fee_pool)
    for amm in d.amms.values():
        total += d.clearing_house.getMarket(amm)[1]
    return total


def close_and_withdraw_all(d: Any, traders: Iterable[Any], liquidator: Any = None) -> None:
    """Every trader closes every position and withdraws the whole free balance. With a `liquidator`, a
    position under water (its close reverts with BadDebt) is liquidated instead."""
    for trader in traders:
        for amm in d.amms.values():
            if d.clearing_house.getPosition(amm, trader)[0] == 0:
                continue
            try:
                d.clearing_house.closePosition(amm, 0, {"from": trader})
            except VirtualMachineError as exc:
                if liquidator is None or not (exc.revert_msg or "").startswith("BadDebt"):
                    raise
                d.clearing_house.liquidate(amm, trader, {"from": liquidator})
        balance = d.vault.balanceOf(trader)
        if balance:
            d.vault.withdraw(balance, {"from": trader})
