// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPriceFeed} from "./IPriceFeed.sol";

/// @title Index price feed backed by Chainlink aggregators
/// @notice One Chainlink `AggregatorV3Interface` feed per market key. Prices are returned as wads (18 decimals),
///         whatever the feed's own decimals. Every answer used is checked: the round must be complete and the
///         answer positive; the latest round must also be fresher than the feed's `maxStaleness`.
/// @dev Scaling from the feed's `d` decimals to 18 decimals: `answer * 10**(18 - d)` when `d <= 18`,
///      `answer / 10**(d - 18)` (truncated) when `d > 18`. Checks on a round happen in this order:
///      completeness (`IncompleteRound`), sign (`NonPositivePrice`), then, for the latest round only,
///      staleness (`StalePrice`).
interface IChainlinkPriceFeed is IPriceFeed {
    // ---------------------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A feed was registered for `key`.
    /// @param key market key, e.g. bytes32("ETH")
    /// @param aggregator the Chainlink aggregator (or proxy) address
    /// @param maxStaleness seconds the latest round may age before it is rejected; 0 = no staleness check
    event AggregatorAdded(bytes32 indexed key, address aggregator, uint256 maxStaleness);

    /// @notice The feed of `key` was unregistered.
    /// @param key market key
    event AggregatorRemoved(bytes32 indexed key);

    /// @notice Chainlink's L2 sequencer uptime feed was named.
    /// @param feed the uptime feed (proxy) address
    /// @param gracePeriod seconds after the sequencer is back up during which `getGuardedPrice` still refuses
    event SequencerUptimeFeedSet(address feed, uint256 gracePeriod);

    // ---------------------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------------------

    /// @notice No feed is registered for `key`.
    /// @param key market key
    error UnknownFeed(bytes32 key);

    /// @notice A round's answer is zero or negative.
    /// @param answer the raw answer, in the feed's own decimals
    error NonPositivePrice(int256 answer);

    /// @notice A round is not complete: its `updatedAt` is 0 or its `answeredInRound` is lower than its id.
    /// @param roundId the offending round id (as the aggregator reports it, phase in the top 16 bits)
    error IncompleteRound(uint80 roundId);

    /// @notice The latest round is older than the feed allows (`block.timestamp - updatedAt > maxStaleness`).
    /// @param updatedAt the latest round's timestamp, seconds
    /// @param maxStaleness the feed's limit, seconds
    error StalePrice(uint256 updatedAt, uint256 maxStaleness);

    /// @notice A TWAP was asked over an interval of 0 seconds.
    error ZeroInterval();

    /// @notice The aggregator address is the zero address.
    error ZeroAddress();

    /// @notice A feed is already registered for `key`; remove it first to replace it.
    /// @param key market key
    error FeedAlreadyRegistered(bytes32 key);

    /// @notice The L2 sequencer is down (its uptime feed answers 1): no position may be opened, increased or
    ///         liquidated.
    /// @param downSince when the uptime feed last changed status (its `startedAt`), seconds
    error SequencerDown(uint256 downSince);

    /// @notice The L2 sequencer is back up, but for less than the grace period: traders may still react to what
    ///         happened during the outage, so no position may be opened, increased or liquidated yet.
    /// @param upSince when the sequencer came back up (the uptime feed's `startedAt`), seconds
    /// @param gracePeriodEnd when opening and liquidating resume, seconds
    error SequencerGracePeriod(uint256 upSince, uint256 gracePeriodEnd);

    /// @notice A sequencer grace period of 0 or longer than `MAX_GRACE_PERIOD`.
    /// @param gracePeriod the value given, seconds
    /// @param maxGracePeriod the longest allowed, seconds
    error InvalidGracePeriod(uint256 gracePeriod, uint256 maxGracePeriod);

    /// @notice The address does not answer like a sequencer uptime feed (answer 0 or 1, a `startedAt`).
    /// @param feed the address given
    error NotAnUptimeFeed(address feed);

    // ---------------------------------------------------------------------------------------------------------
    // Owner functions
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Registers the Chainlink feed of `key`. Owner only.
    /// @dev Reads the aggregator's `decimals()` once and stores it with the address and `maxStaleness`.
    ///      Reverts with `ZeroAddress` for the zero address, `FeedAlreadyRegistered` when `key` is taken, and
    ///      OpenZeppelin's `SafeCastOverflowedUintDowncast` when `maxStaleness` does not fit in 32 bits.
    /// @param key market key, e.g. bytes32("ETH")
    /// @param aggregator the Chainlink aggregator (or proxy) address
    /// @param maxStaleness seconds the latest round may age before prices are refused; 0 = no staleness check
    function addAggregator(bytes32 key, address aggregator, uint256 maxStaleness) external;

    /// @notice Unregisters the feed of `key`. Owner only.
    /// @dev Reverts with `UnknownFeed` when no feed is registered for `key`.
    /// @param key market key
    function removeAggregator(bytes32 key) external;

    /// @notice Names Chainlink's L2 sequencer uptime feed and the grace period after an outage. Owner only.
    /// @dev While the feed answers "down" (1), and for `gracePeriod` seconds after its `startedAt` once it answers
    ///      "up" (0), `getGuardedPrice` reverts (`SequencerDown`, `SequencerGracePeriod`): no position is opened,
    ///      increased or liquidated; closing, reducing, adding margin and withdrawing stay open. Replaces the
    ///      previous feed; there is no way back to no feed (an L2 deployment needs one). Reverts with
    ///      `ZeroAddress`, `InvalidGracePeriod` (0 or above `MAX_GRACE_PERIOD`) and `NotAnUptimeFeed` (the
    ///      address's latest round answers neither 0 nor 1, or has no `startedAt`).
    /// @param feed the uptime feed (proxy) address
    /// @param gracePeriod seconds, 1 to `MAX_GRACE_PERIOD`
    function setSequencerUptimeFeed(address feed, uint256 gracePeriod) external;

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The feed registered for `key`; all zero when none is.
    /// @param key market key
    /// @return aggregator the Chainlink aggregator (or proxy) address
    /// @return decimals the aggregator's decimals, read when the feed was registered
    /// @return maxStaleness seconds; 0 = no staleness check
    function getAggregator(bytes32 key)
        external
        view
        returns (address aggregator, uint8 decimals, uint256 maxStaleness);

    /// @notice The L2 sequencer uptime feed; zero when none is set (an L1 or a local chain: no sequencer check).
    function sequencerUptimeFeed() external view returns (address feed);

    /// @notice Seconds after the sequencer is back up during which `getGuardedPrice` still refuses.
    function sequencerGracePeriod() external view returns (uint256 gracePeriod);

    /// @notice The longest sequencer grace period the owner may set.
    /// @return gracePeriod 1 day, in seconds
    function MAX_GRACE_PERIOD() external view returns (uint256 gracePeriod);

    /// @notice The most rounds `getTwapPrice` reads, the latest included (a gas bound: about 5k gas a round).
    ///         A window holding more is averaged over the time its most recent rounds cover, never stretched.
    /// @return rounds 1024
    function MAX_TWAP_ROUNDS() external view returns (uint256 rounds);
}
