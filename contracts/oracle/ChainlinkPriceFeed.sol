// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IPriceFeed} from "../../interfaces/IPriceFeed.sol";
import {IChainlinkPriceFeed} from "../../interfaces/IChainlinkPriceFeed.sol";

/// @title Index price feed reading Chainlink aggregators
/// @notice Serves the markets' index price (spot and time-weighted) from one Chainlink feed per market key,
///         as wads. The owner registers and removes feeds, and on an L2 names Chainlink's sequencer uptime feed:
///         `getGuardedPrice`, which the protocol reads before a position is opened, increased or liquidated,
///         refuses while the sequencer is down and for a grace period after it is back.
/// @dev Per key, one storage slot holds the aggregator address, its decimals and the staleness limit; one more
///      slot holds the uptime feed and its grace period. A read costs those SLOADs plus the aggregator calls
///      (one per round read).
contract ChainlinkPriceFeed is IChainlinkPriceFeed, Ownable {
    using SafeCast for uint256;

    /// @inheritdoc IChainlinkPriceFeed
    uint256 public constant MAX_TWAP_ROUNDS = 1024;

    /// @dev Chainlink proxies put the phase in the top 16 bits of an 80-bit round id; the low 64 bits count the
    ///      rounds of the phase's aggregator, from 1.
    struct Feed {
        address aggregator; // 160 bits
        uint8 decimals; // 8 bits
        uint32 maxStaleness; // seconds, 0 = unchecked
        uint32 freshUntil; // `checkGuarded`'s cache: the latest round read stays fresh up to this second
    }

    /// @dev Chainlink's L2 sequencer uptime feed (answer 0 = up, 1 = down; `startedAt` = the last change).
    struct Sequencer {
        address feed; // 160 bits; zero: no sequencer check (an L1, a local chain)
        uint32 gracePeriod; // seconds
    }

    /// @inheritdoc IChainlinkPriceFeed
    uint256 public constant MAX_GRACE_PERIOD = 1 days;

    mapping(bytes32 key => Feed feed) private _feeds;
    Sequencer private _sequencer;

    constructor() Ownable(msg.sender) {}

    // -------------------------------------------------------------------------------------------------------------
    // Owner functions
    // -------------------------------------------------------------------------------------------------------------

    /// @inheritdoc IChainlinkPriceFeed
    function addAggregator(bytes32 key, address aggregator, uint256 maxStaleness) external onlyOwner {
        if (aggregator == address(0)) revert ZeroAddress();
        if (_feeds[key].aggregator != address(0)) revert FeedAlreadyRegistered(key);
        uint32 staleness = maxStaleness.toUint32();
        uint8 decimals = AggregatorV3Interface(aggregator).decimals();
        _feeds[key] = Feed({aggregator: aggregator, decimals: decimals, maxStaleness: staleness, freshUntil: 0});
        emit AggregatorAdded(key, aggregator, maxStaleness);
    }

    /// @inheritdoc IChainlinkPriceFeed
    function removeAggregator(bytes32 key) external onlyOwner {
        if (_feeds[key].aggregator == address(0)) revert UnknownFeed(key);
        delete _feeds[key];
        emit AggregatorRemoved(key);
    }

    /// @inheritdoc IChainlinkPriceFeed
    function setSequencerUptimeFeed(address feed, uint256 gracePeriod) external onlyOwner {
        if (feed == address(0)) revert ZeroAddress();
        if (gracePeriod == 0 || gracePeriod > MAX_GRACE_PERIOD) revert InvalidGracePeriod(gracePeriod, MAX_GRACE_PERIOD);
        // an uptime feed answers 0 or 1 with the time of the last change: a price feed's address is refused
        (, int256 answer, uint256 startedAt,,) = AggregatorV3Interface(feed).latestRoundData();
        if ((answer != 0 && answer != 1) || startedAt == 0) revert NotAnUptimeFeed(feed);
        _sequencer = Sequencer({feed: feed, gracePeriod: uint32(gracePeriod)});
        emit SequencerUptimeFeedSet(feed, gracePeriod);
    }

    // -------------------------------------------------------------------------------------------------------------
    // Views
    // -------------------------------------------------------------------------------------------------------------

    /// @inheritdoc IChainlinkPriceFeed
    function getAggregator(bytes32 key)
        external
        view
        returns (address aggregator, uint8 decimals, uint256 maxStaleness)
    {
        Feed memory feed = _feeds[key];
        return (feed.aggregator, feed.decimals, feed.maxStaleness);
    }

    /// @inheritdoc IChainlinkPriceFeed
    function sequencerUptimeFeed() external view returns (address) {
        return _sequencer.feed;
    }

    /// @inheritdoc IChainlinkPriceFeed
    function sequencerGracePeriod() external view returns (uint256) {
        return _sequencer.gracePeriod;
    }

    /// @inheritdoc IPriceFeed
    /// @dev Reverts with `UnknownFeed`, `IncompleteRound`, `NonPositivePrice` or `StalePrice`.
    function getPrice(bytes32 key) external view returns (uint256 price) {
        return _latestPrice(key);
    }

    /// @inheritdoc IPriceFeed
    /// @dev The sequencer first (`SequencerDown`, `SequencerGracePeriod`, or `IncompleteRound` for an uptime
    ///      round without `startedAt`), then `getPrice`'s checks.
    function getGuardedPrice(bytes32 key) external view returns (uint256 price) {
        _checkSequencer();
        return _latestPrice(key);
    }

    /// @inheritdoc IPriceFeed
    /// @dev The sequencer every time; the feed's latest round only when the round read last is no longer sure to
    ///      be fresh: a round with `updatedAt` u keeps the feed fresh until u + maxStaleness whatever rounds follow
    ///      (a newer round is fresher), so that second is stored and rounds are not read again before it (one
    ///      SLOAD on the hot path). With maxStaleness 0 (unchecked) every call reads the round.
    function checkGuarded(bytes32 key) external {
        _checkSequencer();
        Feed memory feed = _feedOf(key);
        if (block.timestamp <= feed.freshUntil) return;
        (uint80 roundId, int256 answer,, uint256 updatedAt, uint80 answeredInRound) =
            AggregatorV3Interface(feed.aggregator).latestRoundData();
        _checkRound(roundId, answer, updatedAt, answeredInRound);
        _checkFresh(updatedAt, feed.maxStaleness);
        if (feed.maxStaleness != 0) {
            uint256 freshUntil = updatedAt + feed.maxStaleness;
            _feeds[key].freshUntil = freshUntil > type(uint32).max ? type(uint32).max : uint32(freshUntil);
        }
    }

    /// @dev The latest round of `key`'s feed, checked complete, positive and fresh, as a wad.
    function _latestPrice(bytes32 key) private view returns (uint256) {
        Feed memory feed = _feedOf(key);
        (uint80 roundId, int256 answer,, uint256 updatedAt, uint80 answeredInRound) =
            AggregatorV3Interface(feed.aggregator).latestRoundData();
        _checkRound(roundId, answer, updatedAt, answeredInRound);
        _checkFresh(updatedAt, feed.maxStaleness);
        return _toWad(uint256(answer), feed.decimals);
    }

    /// @inheritdoc IPriceFeed
    /// @dev Perpetual Protocol v1's Chainlink TWAP, exact over every round in the window. With
    ///      `base = block.timestamp - interval` (0 if negative):
    ///      - the latest round older than `base`, or the first round of its phase: its price.
    ///      - otherwise each round is weighted by the seconds it was in force within `[base, now]`, walking back
    ///        from the latest round (`roundId - 1`, never across a phase boundary) until a round at or before
    ///        `base`, which is weighted from `base`; the sum is divided by `now - base` (`interval`).
    ///      - history the walk does not read is never filled in: when it reaches the phase's first round after
    ///        `base`, or has read `MAX_TWAP_ROUNDS` rounds (the latest included) without reaching `base`, the sum
    ///        is divided by the seconds the rounds read cover (`now - updatedAt` of the oldest one) instead; if
    ///        that is 0, the latest price is returned. A window with at most `MAX_TWAP_ROUNDS` rounds (the one in
    ///        force at `base` included) is therefore exact; a busier one is averaged over its most recent part.
    ///      Every round read must be complete and positive; only the latest round is checked for staleness.
    ///      Rounding as v1: the average is truncated in the feed's own decimals, then scaled to 18 decimals.
    ///      Reverts with `UnknownFeed`, `ZeroInterval`, `IncompleteRound`, `NonPositivePrice`, `StalePrice`.
    function getTwapPrice(bytes32 key, uint256 interval) external view returns (uint256 price) {
        Feed memory feed = _feedOf(key);
        if (interval == 0) revert ZeroInterval();
        AggregatorV3Interface aggregator = AggregatorV3Interface(feed.aggregator);

        (uint80 round, int256 answer,, uint256 updatedAt, uint80 answeredInRound) = aggregator.latestRoundData();
        _checkRound(round, answer, updatedAt, answeredInRound);
        _checkFresh(updatedAt, feed.maxStaleness);
        uint256 latestPrice = uint256(answer);

        uint256 base;
        unchecked {
            base = block.timestamp > interval ? block.timestamp - interval : 0;
        }
        if (updatedAt < base || uint64(round) <= 1) return _toWad(latestPrice, feed.decimals);

        // From here on, base <= newer: the rounds read so far cover [newer, now].
        uint256 newer = updatedAt;
        uint256 weighted = latestPrice * (block.timestamp - updatedAt);
        uint256 read = 1;
        while (newer != base) {
            if (uint64(round) == 1 || read == MAX_TWAP_ROUNDS) {
                // History not read (before the phase, or beyond the bound): average over the seconds covered.
                uint256 covered = block.timestamp - newer;
                return _toWad(covered == 0 ? latestPrice : weighted / covered, feed.decimals);
            }
            unchecked {
                --round;
                ++read;
            }
            (, answer,, updatedAt, answeredInRound) = aggregator.getRoundData(round);
            _checkRound(round, answer, updatedAt, answeredInRound);
            if (updatedAt <= base) {
                weighted += uint256(answer) * (newer - base);
                break;
            }
            weighted += uint256(answer) * (newer - updatedAt);
            newer = updatedAt;
        }
        return _toWad(weighted / (block.timestamp - base), feed.decimals);
    }

    // -------------------------------------------------------------------------------------------------------------
    // Internal
    // -------------------------------------------------------------------------------------------------------------

    function _feedOf(bytes32 key) private view returns (Feed memory feed) {
        feed = _feeds[key];
        if (feed.aggregator == address(0)) revert UnknownFeed(key);
    }

    /// @dev Reverts while the sequencer is down (any answer but 0) and until `gracePeriod` seconds after it came
    ///      back up (`startedAt`); nothing when no uptime feed is set.
    function _checkSequencer() private view {
        Sequencer memory s = _sequencer;
        if (s.feed == address(0)) return;
        (uint80 roundId, int256 answer, uint256 startedAt,,) = AggregatorV3Interface(s.feed).latestRoundData();
        if (answer != 0) revert SequencerDown(startedAt);
        if (startedAt == 0) revert IncompleteRound(roundId);
        uint256 gracePeriodEnd = startedAt + s.gracePeriod;
        if (block.timestamp < gracePeriodEnd) revert SequencerGracePeriod(startedAt, gracePeriodEnd);
    }

    function _checkRound(uint80 roundId, int256 answer, uint256 updatedAt, uint80 answeredInRound) private pure {
        if (updatedAt == 0 || answeredInRound < roundId) revert IncompleteRound(roundId);
        if (answer <= 0) revert NonPositivePrice(answer);
    }

    function _checkFresh(uint256 updatedAt, uint256 maxStaleness) private view {
        if (maxStaleness != 0 && block.timestamp - updatedAt > maxStaleness) {
            revert StalePrice(updatedAt, maxStaleness);
        }
    }

    /// @dev Feed decimals -> 18 decimals; truncates when the feed has more than 18.
    function _toWad(uint256 value, uint8 decimals) private pure returns (uint256) {
        if (decimals == 18) return value;
        if (decimals < 18) return value * 10 ** (18 - uint256(decimals));
        return value / 10 ** (uint256(decimals) - 18);
    }
}
