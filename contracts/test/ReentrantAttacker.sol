// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITransferHook} from "./HookERC20.sol";

/// @title A trader contract that re-enters the protocol from a token's transfer hook — tests only
/// @notice `execute` makes any call as this contract (approve, deposit, trade...). `arm` stores one call to
///         make from inside the next transfer hook; a revert of that call bubbles up and reverts the whole
///         outer call, so a test sees whether the re-entrant call was accepted.
contract ReentrantAttacker is ITransferHook {
    address public target;
    bytes public payload;
    bool public armed;
    /// @notice How many re-entrant calls went through (a test's proof that the hook ran).
    uint256 public reentered;

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
        armed = true;
    }

    function execute(address to, bytes calldata data) external returns (bytes memory) {
        return _call(to, data);
    }

    function onTokenTransfer(address, address, uint256) external override {
        if (!armed) return;
        armed = false;
        _call(target, payload);
        reentered += 1;
    }

    function _call(address to, bytes memory data) private returns (bytes memory ret) {
        bool ok;
        (ok, ret) = to.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
