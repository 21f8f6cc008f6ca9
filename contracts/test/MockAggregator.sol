// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/// @title Mock Chainlink aggregator, for local networks and tests only
/// @notice TEST MOCK: anyone can set any answer. Never deploy it on a live network.
/// @dev Rounds are stored by id; `getRoundData` and `latestRoundData` revert with Chainlink's "No data present" for
///      a round never written. `startedAt` is reported equal to `updatedAt`.
contract MockAggregator is AggregatorV3Interface {
    struct Round {
        int256 answer;
        uint64 updatedAt;
        uint80 answeredInRound;
        bool exists;
    }

    /// @notice Decimals of every answer.
    uint8 public immutable decimals;
    /// @notice Id of the round `latestRoundData` returns.
    uint80 public latestRound;

    mapping(uint80 roundId => Round round) private _rounds;

    /// @param decimals_ decimals of the answers
    /// @param initialAnswer answer of round 1, timestamped now
    constructor(uint8 decimals_, int256 initialAnswer) {
        decimals = decimals_;
        updateAnswer(initialAnswer);
    }

    /// @notice Starts round `latestRound + 1` at `block.timestamp` with `answer` (in `decimals`), complete.
    function updateAnswer(int256 answer) public {
        uint80 roundId = latestRound + 1;
        _rounds[roundId] = Round(answer, uint64(block.timestamp), roundId, true);
        latestRound = roundId;
    }

    /// @notice Writes an arbitrary round (stale, incomplete, non-positive...); it becomes the latest round when
    ///         `roundId >= latestRound`.
    function updateRoundData(uint80 roundId, int256 answer, uint256 updatedAt, uint80 answeredInRound) external {
        _rounds[roundId] = Round(answer, uint64(updatedAt), answeredInRound, true);
        if (roundId >= latestRound) latestRound = roundId;
    }

    /// @notice Writes complete rounds `firstRoundId`, `firstRoundId + 1`... with `answers[i]` at `updatedAts[i]`
    ///         in one transaction (a busy hour of a feed); the last becomes the latest round when it is newer.
    function updateRounds(uint80 firstRoundId, int256[] calldata answers, uint256[] calldata updatedAts) external {
        require(answers.length == updatedAts.length, "length mismatch");
        for (uint256 i = 0; i < answers.length; ++i) {
            uint80 roundId = firstRoundId + uint80(i);
            _rounds[roundId] = Round(answers[i], uint64(updatedAts[i]), roundId, true);
            if (roundId >= latestRound) latestRound = roundId;
        }
    }

    function description() external pure returns (string memory) {
        return "MockAggregator (test only)";
    }

    function version() external pure returns (uint256) {
        return 0;
    }

    function getRoundData(uint80 roundId) public view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory r = _rounds[roundId];
        require(r.exists, "No data present");
        return (roundId, r.answer, r.updatedAt, r.updatedAt, r.answeredInRound);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return getRoundData(latestRound);
    }
}
