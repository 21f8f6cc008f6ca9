// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAmm} from "../../interfaces/IAmm.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {StoredPosition} from "../types/PositionSlots.sol";
import {MarginRatio} from "../libraries/MarginRatio.sol";
import {MarginMath} from "../libraries/MarginMath.sol";
import {ClearingHouseStorage} from "./ClearingHouseStorage.sol";

/// @title Margin
/// @notice A position's equity, funding owed and margin ratio, and the maintenance check after a trade: the one
///         place the ClearingHouse computes them (the TWAP and free-collateral variants are `MarginRatio`'s math,
///         reached through the linked `MarginMath` where bytecode size asks for it).
abstract contract ClearingHouseMargin is ClearingHouseStorage {
    using WadMath for uint256;
    using WadMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @dev What `pos` owes (> 0) or is owed in funding since its last update, from its own side's cumulative
    ///      premium fraction (v1's truncation toward zero).
    function _fundingPayment(Market memory market, StoredPosition memory pos) internal pure returns (int256) {
        if (pos.size == 0) return 0;
        return (_cumulative(market, pos.size > 0) - pos.lastUpdatedCumulativePremiumFraction).mulWad(pos.size);
    }

    /// @dev Spot-price margin ratio of a stored position (its funding owed counted).
    function _spotMarginRatio(Market memory market, StoredPosition memory pos, uint256 q, uint256 b)
        internal
        pure
        returns (int256)
    {
        return MarginRatio.spotMarginRatio(pos.size, pos.openNotional, _equity(market, pos), q, b);
    }

    /// @dev After a trade: the new position must meet the maintenance ratio. The TWAP is only read when
    ///      the spot ratio fails (MAX_PNL passes if either passes).
    function _requireMaintenance(IAmm amm, Result memory r, uint256 mmr) internal view {
        // the trade settled the position's funding: its equity is its margin
        int256 ratio = MarginRatio.spotMarginRatio(r.size, r.openNotional, r.margin.toInt(), r.quoteReserve, r.baseReserve);
        if (ratio >= int256(mmr)) return;
        int256 withTwap = MarginMath.maxPnlMarginRatio(
            amm, r.size, r.openNotional, r.margin.toInt(), r.quoteReserve, r.baseReserve
        );
        if (withTwap < int256(mmr)) revert MarginRatioTooLow(withTwap, mmr);
    }

    function _equity(Market memory market, StoredPosition memory pos) internal pure returns (int256) {
        return int256(uint256(pos.margin)) - _fundingPayment(market, pos);
    }
}
