// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAmm} from "../../interfaces/IAmm.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {IInsuranceFund} from "../../interfaces/IInsuranceFund.sol";
import {ClearingHouseMargin} from "./ClearingHouseMargin.sol";

/// @title Collateral and the Vault
/// @notice Every movement of money: the trader's margin and fees through the Vault, each market's booked collateral
///         (never below zero: the InsuranceFund prepays, v1's prepaid bad debt), the fund's draws, and halting a
///         market whose bad debt the fund cannot pay.
abstract contract ClearingHouseCollateral is ClearingHouseMargin {
    using WadMath for uint256;
    using WadMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @dev Moves the trader's margin and fees through the Vault and books the market's collateral.
    function _settleTrader(IAmm amm, Market memory market, Result memory r, uint256 tollRatio, uint256 spreadRatio)
        internal
        returns (uint256 fee)
    {
        uint256 toll = r.exchangedQuote.mulWad(tollRatio);
        uint256 spread = r.exchangedQuote.mulWad(spreadRatio);
        fee = toll + spread;
        uint256 debit = fee;
        uint256 creditBack;
        if (r.marginToVault > 0) debit += uint256(r.marginToVault);
        else creditBack = uint256(-r.marginToVault);
        market.collateral = (int256(market.collateral) + r.marginToVault).toInt96();
        if (market.collateral < 0) _requirePrepaid(amm, market);
        _trackSize(market, r.size - r.exchangedSize, r.size);
        _writeMarket(amm, market);
        address pool = toll == 0 ? address(0) : feePool;
        if (pool == address(0)) {
            _vaultSettle(msg.sender, debit, creditBack, fee);
        } else {
            _vaultSettle(msg.sender, debit, creditBack, spread);
            vault.credit(pool, toll);
        }
    }

    /// @dev One Vault call: `account`'s ledger movement and the InsuranceFund's income (fee recipient zero:
    ///      the fund's income field, see IVault.settle).
    function _vaultSettle(address account, uint256 debitWad, uint256 creditWad, uint256 fundWad) internal {
        vault.settle(account, debitWad, creditWad, address(0), fundWad);
    }

    /// @dev The InsuranceFund pays up to `amount` (wad) for funding, out of its surplus only (neither its reserve
    ///      floor nor the bad debt it still owes); returns what it paid.
    function _drawFundSurplus(uint256 amount) internal returns (uint256 paid) {
        uint256 available = IInsuranceFund(insuranceFund).surplus();
        paid = amount < available ? amount : available;
        if (paid != 0) paid = vault.debitUpTo(insuranceFund, paid);
    }

    /// @dev The InsuranceFund pays `amount` into the market; what it cannot pay halts the market.
    ///      The caller has booked `amount` into `market.collateral`; the unpaid part is taken back out of
    ///      it here (the caller writes `market` to storage afterwards).
    function _drawInsurance(IAmm amm, Market memory market, uint256 amount) internal {
        uint256 paid = vault.debitUpTo(insuranceFund, amount);
        if (paid < amount) {
            uint256 shortfall = amount - paid;
            market.collateral = (int256(market.collateral) - shortfall.toInt()).toInt96();
            _halt(amm, shortfall);
        }
    }

    /// @dev Shuts `amm` down because the InsuranceFund could not pay `shortfall` (wad), which stays owed.
    function _halt(IAmm amm, uint256 shortfall) internal {
        _unpaidBadDebt += shortfall;
        _haltShortfall[amm] += shortfall;
        if (!amm.isShutdown()) amm.shutdown();
        emit MarketHalted(address(amm), shortfall);
    }

    /// @dev Containment: a market never pays out more than it holds. The caller booked a payout that took
    ///      the market's collateral below zero; the InsuranceFund pays the difference in now (v1's prepaid
    ///      bad debt) and the market's collateral is back at zero. Returns what the fund could not pay (the
    ///      collateral then stays that much below zero: the caller refuses or cuts the payout).
    function _prepay(IAmm amm, Market memory market) internal returns (uint256 unpaid) {
        uint256 need = uint256(-int256(market.collateral));
        uint256 paid = vault.debitUpTo(insuranceFund, need);
        if (paid != 0) {
            _prepaidBadDebt[amm] += paid;
            emit BadDebtPrepaid(address(amm), paid);
        }
        unpaid = need - paid;
        market.collateral = -unpaid.toInt().toInt96();
    }

    /// @dev `_prepay`, all or nothing: the action is refused when the fund cannot pay the whole difference.
    function _requirePrepaid(IAmm amm, Market memory market) internal {
        uint256 need = uint256(-int256(market.collateral));
        uint256 unpaid = _prepay(amm, market);
        if (unpaid != 0) revert InsuranceFundInsufficient(need, need - unpaid);
    }

    /// @dev Bad debt `amount` (wad) realised in `amm`, already booked into `market.collateral`: what the fund
    ///      prepaid for it is netted out (taken back out of the collateral); returns what the fund still owes.
    function _netPrepaid(IAmm amm, Market memory market, uint256 amount) internal returns (uint256) {
        uint256 prepaid = _prepaidBadDebt[amm];
        if (prepaid == 0) return amount;
        uint256 used = prepaid < amount ? prepaid : amount;
        _prepaidBadDebt[amm] = prepaid - used;
        market.collateral = (int256(market.collateral) - used.toInt()).toInt96();
        return amount - used;
    }
}
