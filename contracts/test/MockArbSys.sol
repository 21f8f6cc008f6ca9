// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Stand-in for Arbitrum's ArbSys precompile (tests only)
/// @notice Its runtime code is placed at address(100) on anvil (`anvil_setCode`); the test sets the L2 block
///         number that `arbBlockNumber` returns, as the sequencer starts a new L2 block.
contract MockArbSys {
    /// @notice The L2 block number the stand-in reports.
    uint256 public arbBlockNumber;

    function setBlockNumber(uint256 number) external {
        arbBlockNumber = number;
    }
}
