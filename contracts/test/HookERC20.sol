// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MockERC20} from "./MockERC20.sol";

/// @notice Called by `HookERC20` on every transfer (ERC-777 / ERC-1363 style hooks).
interface ITransferHook {
    function onTokenTransfer(address from, address to, uint256 amount) external;
}

/// @title Mintable ERC-20 with a transfer hook — tests only (hostile collateral)
/// @notice TEST TOKEN: on every transfer (not mint or burn) it calls `hook.onTokenTransfer`, before the
///         balances move when `hookBefore`, after otherwise, like ERC-777's `tokensToSend` /
///         `tokensReceived`. The hook is not re-entered by the transfers it makes itself.
contract HookERC20 is MockERC20 {
    address public hook;
    bool public hookBefore;
    bool private _inHook;

    constructor(uint8 decimals_) MockERC20("Hook USD", "hUSD", decimals_) {}

    /// @notice Anyone may set the hook: the token is hostile by design.
    function setHook(address hook_, bool before_) external {
        hook = hook_;
        hookBefore = before_;
    }

    function _update(address from, address to, uint256 value) internal override {
        bool call = hook != address(0) && !_inHook && from != address(0) && to != address(0);
        if (call && hookBefore) _callHook(from, to, value);
        super._update(from, to, value);
        if (call && !hookBefore) _callHook(from, to, value);
    }

    function _callHook(address from, address to, uint256 value) private {
        _inHook = true;
        ITransferHook(hook).onTokenTransfer(from, to, value);
        _inHook = false;
    }
}
