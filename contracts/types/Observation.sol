// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev One entry of the mark-TWAP ring (`MarkTwap`), one word:
///      timestamp (seconds) 0-31 | blockStartPrice (wad, < 2^80) 32-111 | cumulative (Σ price × seconds, modulo
///      2^144) 112-255. A slot never written is zero; a placeholder (`MarkTwap.grow`) has timestamp 0 and
///      cumulative 1, so that the first real write to it costs 5k gas, not 22k.
type Observation is uint256;

using ObservationLibrary for Observation global;

library ObservationLibrary {
    uint256 private constant PRICE_MASK = type(uint80).max;

    /// @dev `cumulative` is stored modulo 2^144 (its higher bits fall off the word): only differences are read.
    function pack(uint32 timestamp_, uint80 blockStartPrice_, uint256 cumulative_) internal pure returns (Observation) {
        unchecked {
            return Observation.wrap(uint256(timestamp_) | (uint256(blockStartPrice_) << 32) | (cumulative_ << 112));
        }
    }

    /// @dev A slot reserved by `MarkTwap.grow`: timestamp 0, cumulative 1 (non-zero).
    function placeholder() internal pure returns (Observation) {
        return Observation.wrap(uint256(1) << 112);
    }

    function timestamp(Observation self) internal pure returns (uint32) {
        return uint32(Observation.unwrap(self));
    }

    function blockStartPrice(Observation self) internal pure returns (uint256) {
        return (Observation.unwrap(self) >> 32) & PRICE_MASK;
    }

    function cumulative(Observation self) internal pure returns (uint144) {
        return uint144(Observation.unwrap(self) >> 112);
    }

    /// @dev The same observation with another block-start price.
    function withBlockStartPrice(Observation self, uint80 blockStartPrice_) internal pure returns (Observation) {
        return Observation.wrap((Observation.unwrap(self) & ~(PRICE_MASK << 32)) | (uint256(blockStartPrice_) << 32));
    }
}
