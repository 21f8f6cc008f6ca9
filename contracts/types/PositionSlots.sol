// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev A trader's position, unpacked from its two storage words. Bounds: |size|, openNotional < 1.7e20 units;
///      margin < 7.9e10 units. `lastBlock`: the block of the last open, close or liquidation (restriction mode;
///      survives a close).
struct StoredPosition {
    int128 size;
    uint96 margin;
    uint32 lastBlock;
    uint128 openNotional;
    int128 lastUpdatedCumulativePremiumFraction;
}

/// @dev size (int128, wad) 0-127 | margin (wad) 128-223 | lastBlock 224-255.
type PositionHead is uint256;

/// @dev openNotional (wad) 0-127 | lastUpdatedCumulativePremiumFraction (int128, wad) 128-255.
type PositionTail is uint256;

/// @dev A position in storage: written whole (two SSTOREs), read whole or one word at a time.
struct PositionSlots {
    PositionHead head;
    PositionTail tail;
}

using PositionSlotsLibrary for PositionSlots global;
using PositionSlotsLibrary for PositionHead global;
using PositionSlotsLibrary for PositionTail global;

library PositionSlotsLibrary {
    uint256 private constant MARGIN_MASK = type(uint96).max;

    /// @dev Fills the named return in place (a `return StoredPosition(...)` would allocate the struct twice).
    function load(PositionSlots storage self) internal view returns (StoredPosition memory p) {
        PositionHead head = self.head;
        PositionTail tail = self.tail;
        p.size = head.size();
        p.margin = head.margin();
        p.lastBlock = head.lastBlock();
        p.openNotional = tail.openNotional();
        p.lastUpdatedCumulativePremiumFraction = tail.cumulative();
    }

    /// @dev Writes both words (no read).
    function store(
        PositionSlots storage self,
        int128 size_,
        uint96 margin_,
        uint32 lastBlock_,
        uint128 openNotional_,
        int128 cumulative_
    ) internal {
        self.head = packHead(size_, margin_, lastBlock_);
        self.tail = packTail(openNotional_, cumulative_);
    }

    function packHead(int128 size_, uint96 margin_, uint32 lastBlock_) internal pure returns (PositionHead) {
        return PositionHead.wrap(uint256(uint128(size_)) | (uint256(margin_) << 128) | (uint256(lastBlock_) << 224));
    }

    function packTail(uint128 openNotional_, int128 cumulative_) internal pure returns (PositionTail) {
        return PositionTail.wrap(uint256(openNotional_) | (uint256(uint128(cumulative_)) << 128));
    }

    function size(PositionHead self) internal pure returns (int128) {
        return int128(uint128(PositionHead.unwrap(self)));
    }

    function margin(PositionHead self) internal pure returns (uint96) {
        return uint96(PositionHead.unwrap(self) >> 128);
    }

    function lastBlock(PositionHead self) internal pure returns (uint32) {
        return uint32(PositionHead.unwrap(self) >> 224);
    }

    /// @dev The same word with another margin.
    function withMargin(PositionHead self, uint96 margin_) internal pure returns (PositionHead) {
        return PositionHead.wrap((PositionHead.unwrap(self) & ~(MARGIN_MASK << 128)) | (uint256(margin_) << 128));
    }

    function openNotional(PositionTail self) internal pure returns (uint128) {
        return uint128(PositionTail.unwrap(self));
    }

    function cumulative(PositionTail self) internal pure returns (int128) {
        return int128(uint128(PositionTail.unwrap(self) >> 128));
    }

    /// @dev The same word with another cumulative premium fraction snapshot.
    function withCumulative(PositionTail self, int128 cumulative_) internal pure returns (PositionTail) {
        return PositionTail.wrap(uint256(uint128(PositionTail.unwrap(self))) | (uint256(uint128(cumulative_)) << 128));
    }
}
