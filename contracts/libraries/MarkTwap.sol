// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Mark-price TWAP: a price×time accumulator read at two points
/// @notice One observation per block that moved the pool, in a ring buffer of 1,024 one-slot entries
///         (Uniswap v3's layout). An observation holds the block's timestamp, the price in force before
///         the block (the fluctuation limit's reference) and the price×seconds accumulated up to it.
///         Between two observations the price is constant, so the accumulator at any past second is
///         exact, and a TWAP equals Perp v1's walk over reserve snapshots to the wei, at a cost that does
///         not depend on the number of trades — as long as the window holds fewer than 1,024 trading
///         blocks (one per 3.5 s over an hour). Beyond that the oldest observations are overwritten and the
///         price before the oldest one kept is taken as constant back to the window's start.
///         Several blocks may share a timestamp (fast L2s): their observations then share it too (timestamps
///         are non-decreasing, not increasing), add nothing to the accumulator, and the searches below
///         still find the last observation at or before a target second.
/// @dev The search takes 10 reads (binary, funding) or fewer (galloping back from the newest, margin checks);
///      the oldest slot is only read when the search ends on it, and a ring that has not wrapped yet (a flag
///      in the head) is searched from its first observation on.
///      The accumulator wraps modulo 2^144 (Uniswap v2's trick): only differences are used, and a
///      difference over any window stays far below 2^144 (a price of 1e30 wad for 1e12 seconds).
///      A slot never written holds zeros; `grow` pre-writes placeholders (timestamp 0, non-zero) so that
///      the first real write to a slot costs 5k gas, not 22k.
library MarkTwap {
    struct Observation {
        uint32 timestamp;
        uint80 startPrice; // the price in force since the previous observation (wad)
        uint144 cumulative; // Σ price(wad) × seconds, modulo 2^144
    }

    uint256 internal constant CAPACITY = 1024;
    uint256 private constant INDEX_MASK = CAPACITY - 1;
    /// @dev Ring-head flag: the ring has wrapped.
    uint256 private constant WRAPPED = CAPACITY;

    /// @dev Writes the first observation.
    function initialize(Observation[1024] storage self, uint32 timestamp, uint256 price) internal {
        self[0] = Observation(timestamp, uint80(price), 0);
    }

    /// @dev Pre-writes placeholder observations in slots [from, to) that were never written.
    function grow(Observation[1024] storage self, uint256 from, uint256 to) internal {
        for (uint256 i = from; i < to; ++i) {
            if (self[i].timestamp == 0 && self[i].cumulative == 0) self[i].cumulative = 1;
        }
    }

    /// @dev Records the start of a new block at `timestamp`; `lastPrice` (< 2^80) has been in force since
    ///      the newest observation. `head` and the returned value are ring heads: the newest observation's
    ///      slot in the low 10 bits, and bit 10 (`WRAPPED`) set once the ring has been filled and slot 0 is
    ///      written a second time (from then on the slot after the newest holds the oldest observation).
    function write(Observation[1024] storage self, uint16 head, uint32 timestamp, uint256 lastPrice)
        internal
        returns (uint16 next)
    {
        unchecked {
            uint256 index = uint256(head) & INDEX_MASK;
            uint256 slot = index + 1;
            // slot <= CAPACITY, head <= 2047: both fit 16 bits
            next = slot == CAPACITY ? uint16(WRAPPED) : uint16(slot | (uint256(head) & WRAPPED));
            // word-level read and write, laid out as `Observation`: timestamp (bits 0-31), startPrice
            // (32-111), cumulative (112-255); lastPrice < 2^80 and the cumulative wraps modulo 2^144
            uint256 last;
            assembly ("memory-safe") {
                last := sload(add(self.slot, index))
            }
            uint256 cumulative = (last >> 112) + lastPrice * (timestamp - (last & type(uint32).max));
            uint256 word = uint256(timestamp) | (lastPrice << 32) | (cumulative << 112);
            uint256 at = slot & INDEX_MASK;
            assembly ("memory-safe") {
                sstore(add(self.slot, at), word)
            }
        }
    }

    /// @notice Time-weighted average price over [now - interval, now].
    /// @param head the ring head (see `write`)
    /// @param spot the price in force since the newest observation (the current pool price)
    /// @dev When the recorded history starts after `now - interval`, the average covers the history
    ///      (Perp v1's rule). With `interval == 0`, or no price change inside the window, returns `spot`.
    /// @param fixedCost true: a binary search over the whole ring, the same 10 reads whatever the number
    ///        of trades (funding); false: a galloping search back from the newest observation, cheaper when
    ///        few blocks traded inside the window (the 15-minute TWAP of margin checks)
    function twap(
        Observation[1024] storage self,
        uint16 head,
        uint32 nowTs,
        uint256 spot,
        uint256 interval,
        bool fixedCost
    ) internal view returns (uint256) {
        uint256 index = uint256(head) & INDEX_MASK;
        Observation memory newest = self[index];
        if (interval == 0 || newest.timestamp + interval <= nowTs) return spot;
        uint256 target = nowTs - interval;
        unchecked {
            uint144 cumulativeNow = uint144(newest.cumulative + spot * (nowTs - newest.timestamp));
            bool wrapped = uint256(head) & WRAPPED != 0;

            // Search over logical positions p = 0..1023, physical slot (index + 1 + p) % 1024, p = 1023 the
            // newest. Placeholders (timestamp 0) precede the real observations until the ring wraps. Invariant:
            // ts(lo) <= target < ts(hi), where ts(0) is only assumed and checked after the search (one read
            // saved in the common case).
            uint256 lo = 0;
            uint256 hi = CAPACITY - 1;
            if (!fixedCost) {
                if (!wrapped) {
                    // the oldest observation is slot 0, logical position 1023 - index
                    Observation memory first = self[0];
                    if (first.timestamp >= target) return _historyAverage(first, cumulativeNow, nowTs, spot);
                    lo = CAPACITY - 1 - index;
                }
                // gallop back from the newest until an observation at or before `target` (or `lo`)
                for (uint256 step = 1; step < CAPACITY - 1 - lo; step <<= 1) {
                    uint256 p = CAPACITY - 1 - step;
                    if (self[_at(index, p)].timestamp <= target) {
                        lo = p;
                        break;
                    }
                    hi = p;
                }
            }
            while (hi - lo > 1) {
                uint256 mid = (lo + hi) >> 1;
                if (self[_at(index, mid)].timestamp <= target) lo = mid;
                else hi = mid;
            }
            // lo: the last observation at or before `target` (or the oldest slot); hi = lo + 1 comes after
            // it and records the price that was in force from lo until hi
            Observation memory before = self[_at(index, lo)];
            Observation memory afterIt = self[_at(index, hi)];
            if (before.timestamp == 0) {
                // a placeholder: the ring has not wrapped and the history starts at `afterIt`, after `target`
                return _historyAverage(afterIt, cumulativeNow, nowTs, spot);
            }
            if (before.timestamp > target) {
                // only when lo is the oldest slot
                if (!wrapped) return _historyAverage(before, cumulativeNow, nowTs, spot);
                // history overwritten: the price in force before the oldest kept observation is taken as
                // constant back to `target`
                uint144 extrapolated = uint144(before.cumulative - uint256(before.startPrice) * (before.timestamp - target));
                return uint256(uint144(cumulativeNow - extrapolated)) / interval;
            }
            uint144 cumulativeAtTarget = uint144(before.cumulative + uint256(afterIt.startPrice) * (target - before.timestamp));
            return uint256(uint144(cumulativeNow - cumulativeAtTarget)) / interval;
        }
    }

    /// @dev History shorter than the interval: the average over what there is, from `oldest` (v1).
    function _historyAverage(Observation memory oldest, uint144 cumulativeNow, uint32 nowTs, uint256 spot)
        private
        pure
        returns (uint256)
    {
        unchecked {
            uint256 covered = nowTs - oldest.timestamp;
            return covered == 0 ? spot : uint256(uint144(cumulativeNow - oldest.cumulative)) / covered;
        }
    }

    /// @dev The price in force before the newest observation's block: the fluctuation limit's reference
    ///      while that block is the current one.
    function startPrice(Observation[1024] storage self, uint16 head) internal view returns (uint256) {
        return self[uint256(head) & INDEX_MASK].startPrice;
    }

    /// @dev Physical slot of logical position `p` (0 = oldest slot, CAPACITY − 1 = `index`, the newest).
    function _at(uint256 index, uint256 p) private pure returns (uint256) {
        unchecked {
            return (index + 1 + p) % CAPACITY;
        }
    }
}
