// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {WadMath} from "./WadMath.sol";
import {IAmm} from "../../interfaces/IAmm.sol";

/// @title Constant-product pool math with Perpetual Protocol v1's rounding
/// @notice The invariant is recomputed from the reserves on every quote as `quote * base / 1e18`
///         (truncated). When `k / reserveAfter` leaves a remainder the trader gets 1 wei less, or pays
///         1 wei more: the pool never loses to rounding.
library PoolMath {
    using WadMath for uint256;

    /// @dev Direction of an asset relative to the pool. Mirrors IAmm.Dir.
    uint8 internal constant ADD_TO_AMM = 0;
    uint8 internal constant REMOVE_FROM_AMM = 1;

    /// @notice Base amount for adding (`isAdd`) or removing `quoteAmount` of quote, in wad.
    /// @dev Adding: base received, rounded down. Removing: base to give, rounded up. Reverts
    ///      `TradeLimitExceeded(quoteAmount, quoteReserve)` when removing would empty the quote reserve.
    function getInputPrice(bool isAdd, uint256 quoteAmount, uint256 quoteReserve, uint256 baseReserve)
        internal
        pure
        returns (uint256 baseAmount)
    {
        if (quoteAmount == 0) return 0;
        if (!isAdd && quoteAmount >= quoteReserve) revert IAmm.TradeLimitExceeded(quoteAmount, quoteReserve);
        uint256 k = quoteReserve.mulWad(baseReserve);
        uint256 quoteAfter = isAdd ? quoteReserve + quoteAmount : quoteReserve - quoteAmount;
        uint256 baseAfter = k.divWad(quoteAfter);
        baseAmount = isAdd ? baseReserve - baseAfter : baseAfter - baseReserve;
        // k × WAD did not overflow (divWad above would have reverted): mulmod gives the same remainder
        if (mulmod(k, WadMath.WAD, quoteAfter) != 0) {
            if (isAdd) baseAmount -= 1;
            else baseAmount += 1;
        }
    }

    /// @notice Quote amount for adding (`isAdd`) or removing `baseAmount` of base, in wad.
    /// @dev Adding base: quote received, rounded down. Removing base: quote to pay, rounded up. Reverts
    ///      `TradeLimitExceeded(baseAmount, baseReserve)` when removing would empty the base reserve (a position
    ///      larger than the pool's base, possible after a k reduction, has no spot value).
    function getOutputPrice(bool isAdd, uint256 baseAmount, uint256 quoteReserve, uint256 baseReserve)
        internal
        pure
        returns (uint256 quoteAmount)
    {
        if (baseAmount == 0) return 0;
        if (!isAdd && baseAmount >= baseReserve) revert IAmm.TradeLimitExceeded(baseAmount, baseReserve);
        uint256 k = quoteReserve.mulWad(baseReserve);
        uint256 baseAfter = isAdd ? baseReserve + baseAmount : baseReserve - baseAmount;
        uint256 quoteAfter = k.divWad(baseAfter);
        quoteAmount = isAdd ? quoteReserve - quoteAfter : quoteAfter - quoteReserve;
        if (mulmod(k, WadMath.WAD, baseAfter) != 0) {
            if (isAdd) quoteAmount -= 1;
            else quoteAmount += 1;
        }
    }

    /// @notice Spot price quote / base, rounded down.
    function spotPrice(uint256 quoteReserve, uint256 baseReserve) internal pure returns (uint256) {
        return quoteReserve.divWad(baseReserve);
    }
}
