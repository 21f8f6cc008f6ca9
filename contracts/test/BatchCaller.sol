// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Several calls in one transaction, as one account — tests only
/// @notice `run` makes each call in order as this contract and reverts the whole transaction, with the
///         failing call's own revert data, when one fails: an attacker's open, curve change and close in one go.
contract BatchCaller {
    function run(address[] calldata targets, bytes[] calldata data) external returns (bytes[] memory results) {
        results = new bytes[](targets.length);
        for (uint256 i; i < targets.length; ++i) {
            (bool ok, bytes memory ret) = targets[i].call(data[i]);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 32), mload(ret))
                }
            }
            results[i] = ret;
        }
    }
}
