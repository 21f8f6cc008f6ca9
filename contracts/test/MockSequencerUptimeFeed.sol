// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/// @title Mock Chainlink L2 sequencer uptime feed, for local networks and tests only
/// @notice TEST MOCK: anyone can set any status. Never deploy it on a live network (the live deploy names
///         Chainlink's own uptime feed instead). Answers like Chainlink's feed: `answer` 0 = the sequencer is
///         up, 1 = down; `startedAt` = when the status last changed; `updatedAt` = when it was last reported.
/// @dev One round, in one slot (as Chainlink's own uptime feed keeps its state): one SLOAD per read.
contract MockSequencerUptimeFeed is AggregatorV3Interface {
    struct Round {
        uint80 roundId;
        int88 answer;
        uint40 startedAt;
        uint40 updatedAt;
    }

    Round private _latest;

    /// @param answer 0 (up) or 1 (down)
    /// @param statusAge seconds since the status started (`startedAt = block.timestamp - statusAge`, at least 1):
    ///        a deployment reporting "up" since before its grace period trades at once
    constructor(int256 answer, uint256 statusAge) {
        uint256 since = block.timestamp > statusAge ? block.timestamp - statusAge : 1;
        _latest = Round(1, int88(answer), uint40(since), uint40(block.timestamp));
    }

    /// @notice Reports round `roundId`: `answer` (0 up, 1 down) reported at `timestamp`, status since `startedAt`.
    function updateRoundData(uint80 roundId, int256 answer, uint256 timestamp, uint256 startedAt) external {
        _latest = Round(roundId, int88(answer), uint40(startedAt), uint40(timestamp));
    }

    function decimals() external pure returns (uint8) {
        return 0;
    }

    function description() external pure returns (string memory) {
        return "L2 Sequencer Uptime Status Feed (mock, test only)";
    }

    function version() external pure returns (uint256) {
        return 1;
    }

    function getRoundData(uint80 roundId) external view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory r = _latest;
        require(roundId == r.roundId, "No data present");
        return (r.roundId, r.answer, r.startedAt, r.updatedAt, r.roundId);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory r = _latest;
        return (r.roundId, r.answer, r.startedAt, r.updatedAt, r.roundId);
    }
}
