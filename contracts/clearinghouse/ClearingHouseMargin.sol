// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAmm} from "../../interfaces/IAmm.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {StoredPosition} from "../types/PositionSlots.sol";
import {PositionMath} from "../libraries/PositionMath.sol";
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

    /// @dev Spot-price margin ratio of a stored position.
    function _spotMarginRatio(Market memory market, StoredPosition memory pos, uint256 q, uint256 b)
        internal
        pure
        returns (int256)
    {
        (uint256 notional, int256 pnl) = PositionMath.spotNotionalAndPnl(pos.size, pos.openNotional, q, b);
        return _ratio(market, pos, notional, pnl);
    }

    function _ratio(Market memory market, StoredPosition memory pos, uint256 notional, int256 pnl)
        internal
        pure
        returns (int256)
    {
        int256 value = int256(uint256(pos.margin)) + pnl - _fundingPayment(market, pos);
        return value.divWad(notional.toInt());
    }

    /// @dev After a trade: the new position must meet the maintenance ratio. The TWAP is only read when
    ///      the spot ratio fails (MAX_PNL passes if either passes).
    function _requireMaintenance(IAmm amm, Market memory market, Result memory r, uint256 mmr) internal view {
        StoredPosition memory pos;
        pos.size = r.size.toInt128();
        pos.margin = r.margin.toUint96();
        pos.openNotional = r.openNotional.toUint128();
        pos.lastUpdatedCumulativePremiumFraction = _cumulative(market, r.size > 0).toInt128();
        int256 ratio = _spotMarginRatio(market, pos, r.quoteReserve, r.baseReserve);
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
