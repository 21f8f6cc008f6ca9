// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev The Amm's hot state, unpacked: the reserves, the number of the last block that moved them (truncated
///      to 32 bits: only compared for equality with the current one), the mark-TWAP ring head (newest slot in
///      bits 0-11, bit 12 once the ring has wrapped: `MarkTwap.write`) and the trading flag. The field types are
///      the stored widths, so `pack` cannot lose a bit.
struct Slot0 {
    uint104 quoteReserve;
    uint96 baseReserve;
    uint32 lastBlock;
    uint16 observationIndex;
    bool open;
}

/// @dev `Slot0` in one storage word, read once per trade and written once:
///      quoteReserve 0-103 | baseReserve 104-199 | lastBlock 200-231 | observationIndex 232-247 | open 248-255.
type PoolSlot is uint256;

using PoolSlotLibrary for PoolSlot global;
using PoolSlotLibrary for Slot0 global;

library PoolSlotLibrary {
    function pack(Slot0 memory s) internal pure returns (PoolSlot) {
        return pack(s.quoteReserve, s.baseReserve, s.lastBlock, s.observationIndex, s.open);
    }

    function pack(uint104 quoteReserve_, uint96 baseReserve_, uint32 lastBlock_, uint16 observationIndex_, bool open_)
        internal
        pure
        returns (PoolSlot)
    {
        return PoolSlot.wrap(
            uint256(quoteReserve_) | (uint256(baseReserve_) << 104) | (uint256(lastBlock_) << 200)
                | (uint256(observationIndex_) << 232) | (open_ ? uint256(1) << 248 : 0)
        );
    }

    /// @dev Fills the named return in place (a `return Slot0(...)` would allocate the struct twice).
    function unpack(PoolSlot self) internal pure returns (Slot0 memory s) {
        s.quoteReserve = quoteReserve(self);
        s.baseReserve = baseReserve(self);
        s.lastBlock = lastBlock(self);
        s.observationIndex = observationIndex(self);
        s.open = open(self);
    }

    function quoteReserve(PoolSlot self) internal pure returns (uint104) {
        return uint104(PoolSlot.unwrap(self));
    }

    function baseReserve(PoolSlot self) internal pure returns (uint96) {
        return uint96(PoolSlot.unwrap(self) >> 104);
    }

    function lastBlock(PoolSlot self) internal pure returns (uint32) {
        return uint32(PoolSlot.unwrap(self) >> 200);
    }

    function observationIndex(PoolSlot self) internal pure returns (uint16) {
        return uint16(PoolSlot.unwrap(self) >> 232);
    }

    function open(PoolSlot self) internal pure returns (bool) {
        return (PoolSlot.unwrap(self) >> 248) & 0xff != 0;
    }

    /// @dev The same word with the trading flag set to `open_`.
    function withOpen(PoolSlot self, bool open_) internal pure returns (PoolSlot) {
        return PoolSlot.wrap((PoolSlot.unwrap(self) & ~(uint256(0xff) << 248)) | (open_ ? uint256(1) << 248 : 0));
    }
}
