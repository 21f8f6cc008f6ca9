// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAmm} from "../../interfaces/IAmm.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {FundingMath} from "../libraries/FundingMath.sol";
import {ClearingHouseCollateral} from "./ClearingHouseCollateral.sol";

/// @title Funding
/// @notice A market's funding settlement (`payFunding`): both sides' cumulative premium fractions and the pool's
///         side of the imbalance against the InsuranceFund. A position's own funding is `ClearingHouseMargin`'s.
abstract contract ClearingHouseFunding is ClearingHouseCollateral {
    using WadMath for uint256;
    using WadMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @dev payFunding (v1): both sides' cumulative premium fractions grow by the Amm's premium fraction
    ///      and the pool's side of the imbalance is paid to (or drawn from) the InsuranceFund; the fund pays out of
    ///      its surplus only, and when that is short the receiving side's fraction grows by what there is instead
    ///      (`FundingShortfall`): funding never halts a market.
    function _payFunding(IAmm amm) internal {
        Market memory market = _listedMarket(amm);
        (int256 premiumFraction, int256 totalSize) = amm.settleFunding();
        // the pool's side of the imbalance: positive = the InsuranceFund earns it
        int256 poolPnl = premiumFraction.mulWad(totalSize);
        int256 receiversFraction = premiumFraction;
        if (poolPnl < 0) {
            uint256 owed = uint256(-poolPnl);
            uint256 paid = _drawFundSurplus(owed);
            if (paid < owed) {
                // the receivers share the payers' payment and what the fund paid; shorts = longs − net
                bool longsPay = premiumFraction > 0;
                uint256 shortSize = (market.longSize.toInt() - totalSize).toUint256();
                uint256 perUnit = FundingMath.receiversShare(
                    WadMath.abs(premiumFraction),
                    longsPay ? market.longSize : shortSize,
                    longsPay ? shortSize : market.longSize,
                    paid
                );
                receiversFraction = longsPay ? perUnit.toInt() : -perUnit.toInt();
                poolPnl = -paid.toInt();
                emit FundingShortfall(address(amm), owed, paid);
            }
            market.collateral = (int256(market.collateral) + paid.toInt()).toInt96();
        } else if (poolPnl > 0) {
            market.collateral = (int256(market.collateral) - poolPnl).toInt96();
            _vaultSettle(address(0), 0, 0, uint256(poolPnl));
            // the fund's income above what the market holds comes back as a prepayment (the traders owe it)
            if (market.collateral < 0) _requirePrepaid(amm, market);
        }
        if (premiumFraction > 0) {
            market.cumLong += premiumFraction;
            market.cumShort += receiversFraction;
        } else {
            market.cumShort += premiumFraction;
            market.cumLong += receiversFraction;
        }
        market.longsChanged = true;
        _writeMarket(amm, market);
        emit FundingPaid(address(amm), premiumFraction, market.cumLong, poolPnl);
    }
}
