// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev An Amm's trading parameters, one word read once per trade. Ratios are stored in units of 1e-12
///      (`RATIO_UNIT` = 1e6 wei of a wad), caps in units of 1e-3 (`CAP_UNIT` = 1e15 wei); the Amm's setters
///      refuse values that do not fit exactly. The getters return wad.
///      Layout (bits): tradeLimitRatio 0-39 | fluctuationLimitRatio 40-79 | tollRatio 80-119 | spreadRatio 120-159
///      | maxHoldingBaseAsset 160-207 | openInterestNotionalCap 208-255.
type TradingParams is uint256;

using TradingParamsLibrary for TradingParams global;

library TradingParamsLibrary {
    uint256 internal constant RATIO_UNIT = 1e6;
    uint256 internal constant CAP_UNIT = 1e15;
    uint256 private constant RATIO_MASK = type(uint40).max;
    uint256 private constant CAP_MASK = type(uint48).max;
    uint256 private constant RATIOS_MASK = type(uint160).max;

    // uint40 × 1e6 < 2^60 and uint48 × 1e15 < 2^98: the getters cannot overflow

    function tradeLimitRatio(TradingParams self) internal pure returns (uint256) {
        unchecked {
            return (TradingParams.unwrap(self) & RATIO_MASK) * RATIO_UNIT;
        }
    }

    function fluctuationLimitRatio(TradingParams self) internal pure returns (uint256) {
        unchecked {
            return ((TradingParams.unwrap(self) >> 40) & RATIO_MASK) * RATIO_UNIT;
        }
    }

    function tollRatio(TradingParams self) internal pure returns (uint256) {
        unchecked {
            return ((TradingParams.unwrap(self) >> 80) & RATIO_MASK) * RATIO_UNIT;
        }
    }

    function spreadRatio(TradingParams self) internal pure returns (uint256) {
        unchecked {
            return ((TradingParams.unwrap(self) >> 120) & RATIO_MASK) * RATIO_UNIT;
        }
    }

    function maxHoldingBaseAsset(TradingParams self) internal pure returns (uint256) {
        unchecked {
            return ((TradingParams.unwrap(self) >> 160) & CAP_MASK) * CAP_UNIT;
        }
    }

    function openInterestNotionalCap(TradingParams self) internal pure returns (uint256) {
        unchecked {
            return (TradingParams.unwrap(self) >> 208) * CAP_UNIT;
        }
    }

    /// @dev The same word with the four ratios replaced (each in `RATIO_UNIT`s).
    function withRatios(TradingParams self, uint40 tradeLimit, uint40 fluctuationLimit, uint40 toll, uint40 spread)
        internal
        pure
        returns (TradingParams)
    {
        uint256 ratios = uint256(tradeLimit) | (uint256(fluctuationLimit) << 40) | (uint256(toll) << 80)
            | (uint256(spread) << 120);
        return TradingParams.wrap((TradingParams.unwrap(self) & ~RATIOS_MASK) | ratios);
    }

    /// @dev The same word with the two caps replaced (each in `CAP_UNIT`s).
    function withCaps(TradingParams self, uint48 maxHolding, uint48 openInterestCap) internal pure returns (TradingParams) {
        uint256 caps = (uint256(maxHolding) << 160) | (uint256(openInterestCap) << 208);
        return TradingParams.wrap((TradingParams.unwrap(self) & RATIOS_MASK) | caps);
    }
}
