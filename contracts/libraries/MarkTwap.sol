// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Observation, ObservationLibrary} from "../types/Observation.sol";

/// @dev Observations in the mark-TWAP ring (a file-level constant: array lengths elsewhere need one).
uint256 constant OBSERVATION_CAPACITY = 4096;

/// @title Mark-price TWAP: a price×time accumulator read at two points
/// @notice One observation per second in which the pool moved, in a ring buffer of 4,096 one-slot entries
///         (Uniswap v3's layout). An observation holds its second, the price × seconds accumulated up to it,
///         and the price at the start of the newest block that moved the pool in that second (the fluctuation
///         limit's reference). Between two observations the price is constant, so the accumulator at any past
///         second the ring still holds is exact: the price over a gap is (cumulative₂ − cumulative₁) / (t₂ − t₁),
///         an exact division. Blocks that share a second (fast L2s: Arbitrum makes four a second) share its
///         observation: they add nothing to the accumulator, so a price that stood for one block weighs the
///         seconds it stood, and the ring always spans at least 4,095 seconds of trading, whatever the pace.
///         A TWAP is exact or refuses (`TwapUnavailable`): history the ring no longer holds is never filled in.
///         Funding does not search the ring at all: the Amm keeps the accumulator at the start of the funding
///         window (`cumulativeAt` once, when the market opens; `cumulativeNow` at each settlement).
/// @dev Margin checks gallop back from the newest observation (cheap when few seconds traded inside the window),
///      then search between the last two probes; the oldest observation is only read when the search ends on it,
///      and a ring that has not wrapped yet (a flag in the head) is searched from its first observation on.
///      The accumulator wraps modulo 2^144 (Uniswap v2's trick): only differences are used, and a difference
///      over any window stays below 2^112 (a price below 2^80 wad for less than 2^32 seconds).
///      A slot never written holds zeros; `grow` pre-writes placeholders (timestamp 0, non-zero) so that the
///      first real write to a slot costs 5k gas, not 22k.
library MarkTwap {
    /// @notice The ring no longer holds the start of the window: `windowStart` is before its oldest observation.
    error TwapUnavailable(uint256 windowStart, uint256 oldestObservation);

    uint256 internal constant CAPACITY = OBSERVATION_CAPACITY;
    uint256 private constant INDEX_MASK = CAPACITY - 1;
    /// @dev Ring-head flag: the ring has wrapped.
    uint256 private constant WRAPPED = CAPACITY;

    /// @dev Writes the first observation.
    function initialize(Observation[OBSERVATION_CAPACITY] storage self, uint32 timestamp, uint80 price) internal {
        self[0] = ObservationLibrary.pack(timestamp, price, 0);
    }

    /// @dev Pre-writes placeholder observations in slots [from, to) that were never written.
    function grow(Observation[OBSERVATION_CAPACITY] storage self, uint256 from, uint256 to) internal {
        for (uint256 i = from; i < to; ++i) {
            if (Observation.unwrap(self[i]) == 0) self[i] = ObservationLibrary.placeholder();
        }
    }

    /// @dev Records the start of a new block at `timestamp`; `blockStartPrice` (< 2^80), the price the block
    ///      starts at, has been in force since the newest observation. In the newest observation's second only
    ///      the block-start price changes; a later second gets the next slot. `head` and the returned value are
    ///      ring heads: the newest observation's slot in the low 12 bits, and bit 12 (`WRAPPED`) set once the
    ///      ring has been filled and slot 0 is written a second time (from then on the slot after the newest
    ///      holds the oldest observation).
    function write(Observation[OBSERVATION_CAPACITY] storage self, uint16 head, uint32 timestamp, uint80 blockStartPrice)
        internal
        returns (uint16 next)
    {
        unchecked {
            uint256 index = uint256(head) & INDEX_MASK;
            Observation last = _get(self, index);
            uint256 lastTimestamp = last.timestamp();
            if (timestamp == lastTimestamp) {
                _set(self, index, last.withBlockStartPrice(blockStartPrice));
                return head;
            }
            uint256 slot = index + 1;
            // slot <= CAPACITY, head < 2 * CAPACITY: both fit 16 bits
            next = slot == CAPACITY ? uint16(WRAPPED) : uint16(slot | (uint256(head) & WRAPPED));
            // the accumulator wraps modulo 2^144 (`pack` keeps its low 144 bits)
            uint256 cumulative = uint256(last.cumulative()) + uint256(blockStartPrice) * (timestamp - lastTimestamp);
            _set(self, slot & INDEX_MASK, ObservationLibrary.pack(timestamp, blockStartPrice, cumulative));
        }
    }

    /// @dev The accumulator at `nowTs`: `spot` has been in force since the newest observation.
    function cumulativeNow(Observation[OBSERVATION_CAPACITY] storage self, uint16 head, uint32 nowTs, uint256 spot)
        internal
        view
        returns (uint144)
    {
        Observation newest = self[uint256(head) & INDEX_MASK];
        unchecked {
            return uint144(newest.cumulative() + spot * (nowTs - newest.timestamp()));
        }
    }

    /// @notice Time-weighted average price over [nowTs - interval, nowTs], exact.
    /// @param head the ring head (see `write`)
    /// @param spot the price in force since the newest observation (the current pool price)
    /// @dev When the recorded history starts after `nowTs - interval` and the ring has never wrapped, the average
    ///      covers the whole history (Perp v1's rule). When it has wrapped and no longer reaches back to the
    ///      window's start: `TwapUnavailable`. With `interval == 0`, or no price change inside the window, `spot`.
    function twap(Observation[OBSERVATION_CAPACITY] storage self, uint16 head, uint32 nowTs, uint256 spot, uint256 interval)
        internal
        view
        returns (uint256)
    {
        Observation newest = self[uint256(head) & INDEX_MASK];
        if (interval == 0 || newest.timestamp() + interval <= nowTs) return spot;
        unchecked {
            uint256 target = nowTs - interval;
            uint144 current = uint144(newest.cumulative() + spot * (nowTs - newest.timestamp()));
            (uint144 atStart, uint32 start) = _cumulativeAt(self, head, target);
            if (start != target) {
                // the recorded history starts after the window's start
                if (uint256(head) & WRAPPED != 0) revert TwapUnavailable(target, start);
                uint256 covered = nowTs - start;
                return covered == 0 ? spot : uint256(uint144(current - atStart)) / covered;
            }
            return uint256(uint144(current - atStart)) / interval;
        }
    }

    /// @dev The accumulator at second `target` (not after now: `spot` is in force from the newest observation
    ///      to now), and the second it is taken at: `target`, or the oldest observation's when the ring does not
    ///      reach back to `target`.
    function cumulativeAt(Observation[OBSERVATION_CAPACITY] storage self, uint16 head, uint256 spot, uint256 target)
        internal
        view
        returns (uint144 cumulative, uint32 at)
    {
        Observation newest = self[uint256(head) & INDEX_MASK];
        if (target >= newest.timestamp()) {
            unchecked {
                return (uint144(newest.cumulative() + spot * (target - newest.timestamp())), uint32(target));
            }
        }
        return _cumulativeAt(self, head, target);
    }

    /// @dev As `cumulativeAt`, for `target` before the newest observation.
    function _cumulativeAt(Observation[OBSERVATION_CAPACITY] storage self, uint16 head, uint256 target)
        private
        view
        returns (uint144, uint32)
    {
        unchecked {
            uint256 index = uint256(head) & INDEX_MASK;
            bool wrapped = uint256(head) & WRAPPED != 0;
            // Logical positions p = 0..CAPACITY-1, physical slot (index + 1 + p) % CAPACITY, p = CAPACITY - 1 the
            // newest. `oldest`: the oldest observation's position (slot 0 until the ring wraps).
            uint256 oldest = wrapped ? 0 : CAPACITY - 1 - index;
            // Invariant: ts(hi) > target, and ts(lo) <= target once `found`.
            uint256 hi = CAPACITY - 1;
            uint256 lo = oldest;
            bool found;
            if (!wrapped) {
                // a young ring: one read of its first observation answers when the history starts after `target`
                Observation first = self[0];
                if (first.timestamp() >= target) return (first.cumulative(), first.timestamp());
                found = true;
            }
            // gallop back from the newest until an observation at or before `target`, or the oldest
            for (uint256 step = 1; step < CAPACITY - 1 - oldest; step <<= 1) {
                uint256 p = CAPACITY - 1 - step;
                if (self[_at(index, p)].timestamp() <= target) {
                    lo = p;
                    found = true;
                    break;
                }
                hi = p;
            }
            if (!found) {
                Observation first = self[_at(index, oldest)];
                if (first.timestamp() >= target) return (first.cumulative(), first.timestamp());
            }
            while (hi - lo > 1) {
                uint256 mid = (lo + hi) >> 1;
                if (self[_at(index, mid)].timestamp() <= target) lo = mid;
                else hi = mid;
            }
            // lo: the last observation at or before `target`; hi = lo + 1, the first after it. The price between
            // them is constant, (hi.cumulative − lo.cumulative) / (hi.timestamp − lo.timestamp), so the accumulator
            // at `target` is an exact interpolation.
            Observation before = self[_at(index, lo)];
            Observation afterIt = self[_at(index, hi)];
            uint256 gap = uint144(afterIt.cumulative() - before.cumulative());
            uint256 elapsed = target - before.timestamp();
            return (uint144(before.cumulative() + gap * elapsed / (afterIt.timestamp() - before.timestamp())), uint32(target));
        }
    }

    /// @dev The price at the start of the newest observation's latest block: the fluctuation limit's reference
    ///      while that block is the current one.
    function blockStartPrice(Observation[OBSERVATION_CAPACITY] storage self, uint16 head) internal view returns (uint256) {
        return self[uint256(head) & INDEX_MASK].blockStartPrice();
    }

    /// @dev `self[index]` without Solidity's bounds check: every caller masks `index` below CAPACITY. Leaf
    ///      assembly, on the hot path of every trade's first write in a second; plain Solidity: `return self[index];`.
    function _get(Observation[OBSERVATION_CAPACITY] storage self, uint256 index) private view returns (Observation o) {
        assembly ("memory-safe") {
            o := sload(add(self.slot, index))
        }
    }

    /// @dev `self[index] = o` without the bounds check (`index` < CAPACITY, as for `_get`).
    function _set(Observation[OBSERVATION_CAPACITY] storage self, uint256 index, Observation o) private {
        assembly ("memory-safe") {
            sstore(add(self.slot, index), o)
        }
    }

    /// @dev Physical slot of logical position `p` (0 = oldest slot, CAPACITY − 1 = `index`, the newest).
    function _at(uint256 index, uint256 p) private pure returns (uint256) {
        unchecked {
            return (index + 1 + p) % CAPACITY;
        }
    }
}
