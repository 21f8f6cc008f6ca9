// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev The ClearingHouse's margin parameters and its pause flag, one word read once per action. Ratios
///      (<= 1e18 wad) are stored in units of `UNIT` (100 wei); the setter refuses values that are not multiples
///      of it. The getters return wad.
///      Layout (bits): initMarginRatio 0-55 | maintenanceMarginRatio 56-111 | liquidationFeeRatio 112-167
///      | partialLiquidationRatio 168-223 | paused 224-231.
type MarginParams is uint256;

using MarginParamsLibrary for MarginParams global;

library MarginParamsLibrary {
    uint256 internal constant UNIT = 100;
    uint256 private constant RATIO_MASK = type(uint56).max;
    uint256 private constant PAUSED_BIT = uint256(1) << 224;

    // uint56 × 100 < 2^63: the getters cannot overflow

    /// @dev The four ratios in `UNIT`s, and the pause flag.
    function pack(uint56 imr, uint56 mmr, uint56 liquidationFee, uint56 partialLiquidation, bool paused_)
        internal
        pure
        returns (MarginParams)
    {
        return MarginParams.wrap(
            uint256(imr) | (uint256(mmr) << 56) | (uint256(liquidationFee) << 112) | (uint256(partialLiquidation) << 168)
                | (paused_ ? PAUSED_BIT : 0)
        );
    }

    function initMarginRatio(MarginParams self) internal pure returns (uint256) {
        unchecked {
            return (MarginParams.unwrap(self) & RATIO_MASK) * UNIT;
        }
    }

    function maintenanceMarginRatio(MarginParams self) internal pure returns (uint256) {
        unchecked {
            return ((MarginParams.unwrap(self) >> 56) & RATIO_MASK) * UNIT;
        }
    }

    function liquidationFeeRatio(MarginParams self) internal pure returns (uint256) {
        unchecked {
            return ((MarginParams.unwrap(self) >> 112) & RATIO_MASK) * UNIT;
        }
    }

    function partialLiquidationRatio(MarginParams self) internal pure returns (uint256) {
        unchecked {
            return ((MarginParams.unwrap(self) >> 168) & RATIO_MASK) * UNIT;
        }
    }

    function paused(MarginParams self) internal pure returns (bool) {
        return MarginParams.unwrap(self) & PAUSED_BIT != 0;
    }

    /// @dev The same ratios with the pause flag set to `paused_`.
    function withPaused(MarginParams self, bool paused_) internal pure returns (MarginParams) {
        return MarginParams.wrap((MarginParams.unwrap(self) & ~PAUSED_BIT) | (paused_ ? PAUSED_BIT : 0));
    }
}
