// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Multicall3 (read-only): many view calls answered by one `eth_call`
/// @notice Keepers and quotes read a page of positions, or every input of a quote, in one round trip.
///         The functions below have the signatures of the canonical Multicall3 (deployed at
///         0xcA11bde05977b3631167028862bE2a173976CA11 on Ethereum and the L2s), so a client reads through
///         either; this one is deployed where that one is not (local chains). Unlike the canonical
///         contract it only reads: every call is a `staticcall`, nothing is payable, it holds nothing.
contract Multicall3 {
    /// @param target the contract to call
    /// @param allowFailure false: a revert of this call reverts the whole batch
    /// @param callData the ABI-encoded call
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    /// @param success whether the call returned (false: it reverted)
    /// @param returnData what it returned, or its revert data
    struct Result {
        bool success;
        bytes returnData;
    }

    /// @dev Call number `index` reverted and did not allow failure; `returnData` is its revert data.
    error CallFailed(uint256 index, bytes returnData);

    /// @notice Makes every call (a `staticcall`) in order and returns each one's outcome.
    function aggregate3(Call3[] calldata calls) external view returns (Result[] memory returnData) {
        uint256 length = calls.length;
        returnData = new Result[](length);
        for (uint256 i = 0; i < length; ++i) {
            Call3 calldata c = calls[i];
            (bool success, bytes memory data) = c.target.staticcall(c.callData);
            if (!success && !c.allowFailure) revert CallFailed(i, data);
            returnData[i] = Result(success, data);
        }
    }

    /// @notice The number of the block the batch is read at.
    function getBlockNumber() external view returns (uint256 blockNumber) {
        blockNumber = block.number;
    }

    /// @notice The timestamp of the block the batch is read at.
    function getCurrentBlockTimestamp() external view returns (uint256 timestamp) {
        timestamp = block.timestamp;
    }

    /// @notice The hash of block `blockNumber` (zero beyond the last 256 blocks).
    function getBlockHash(uint256 blockNumber) external view returns (bytes32 blockHash) {
        blockHash = blockhash(blockNumber);
    }

    /// @notice The chain id.
    function getChainId() external view returns (uint256 chainid) {
        chainid = block.chainid;
    }
}
