// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev A market's storage in the ClearingHouse: two words. The state word is read on every action; the longs'
///      word only where a long position is or may become involved (a short's trade never reads it).
struct StoredMarket {
    MarketState state;
    MarketLongs longs;
}

/// @dev listed (flags, bit 0) 0-7 | lastRestrictionBlock 8-39 | collateral (int96, wad) 40-135 | cumShort (int96,
///      offset binary) 136-231. The shorts' cumulative premium fraction differs from the longs' only after the
///      receivers were paid less than the premium.
type MarketState is uint256;

/// @dev cumLong (int96, offset binary) 0-95 | longSize (uint96, wad: Σ long sizes) 96-191.
///      Offset binary (the sign bit flipped: zero is stored as 2^95) keeps the word non-zero once the market is
///      listed, so that the first long's write costs 2,900 gas, not 20,000.
type MarketLongs is uint256;

using MarketWords for MarketState global;
using MarketWords for MarketLongs global;

library MarketWords {
    /// @dev The sign bit of an int96: flipping it stores a cumulative premium fraction in offset binary.
    uint96 private constant CUM_BIAS = uint96(1) << 95;
    uint256 private constant INT96_MASK = type(uint96).max;

    function packState(bool listed_, uint32 lastRestrictionBlock_, int96 collateral_, int96 cumShort_)
        internal
        pure
        returns (MarketState)
    {
        return MarketState.wrap(
            (listed_ ? 1 : 0) | (uint256(lastRestrictionBlock_) << 8) | (uint256(uint96(collateral_)) << 40)
                | (uint256(uint96(cumShort_) ^ CUM_BIAS) << 136)
        );
    }

    function listed(MarketState self) internal pure returns (bool) {
        return MarketState.unwrap(self) & 1 != 0;
    }

    function lastRestrictionBlock(MarketState self) internal pure returns (uint32) {
        return uint32(MarketState.unwrap(self) >> 8);
    }

    function collateral(MarketState self) internal pure returns (int96) {
        return int96(uint96(MarketState.unwrap(self) >> 40));
    }

    function cumShort(MarketState self) internal pure returns (int96) {
        return int96(uint96(MarketState.unwrap(self) >> 136) ^ CUM_BIAS);
    }

    /// @dev The same word with another collateral.
    function withCollateral(MarketState self, int96 collateral_) internal pure returns (MarketState) {
        return MarketState.wrap(
            (MarketState.unwrap(self) & ~(INT96_MASK << 40)) | (uint256(uint96(collateral_)) << 40)
        );
    }

    function packLongs(int96 cumLong_, uint96 longSize_) internal pure returns (MarketLongs) {
        return MarketLongs.wrap(uint256(uint96(cumLong_) ^ CUM_BIAS) | (uint256(longSize_) << 96));
    }

    function cumLong(MarketLongs self) internal pure returns (int96) {
        return int96(uint96(MarketLongs.unwrap(self)) ^ CUM_BIAS);
    }

    function longSize(MarketLongs self) internal pure returns (uint96) {
        return uint96(MarketLongs.unwrap(self) >> 96);
    }
}
