// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IVault} from "../interfaces/IVault.sol";

/// @title Collateral vault
/// @notice A ledger of wad balances over one ERC-20. Deposits credit what actually arrived (so a
///         fee-on-transfer token cannot inflate a balance); withdrawals pay token units rounded down.
contract Vault is IVault, Ownable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @inheritdoc IVault
    IERC20 public immutable override token;
    /// @inheritdoc IVault
    uint256 public immutable override scale;
    /// @notice The ClearingHouse, set once after deployment.
    address public clearingHouse;
    /// @notice The InsuranceFund contract may pay out of its own account with `withdrawFor`.
    address public insuranceFund;

    mapping(address account => uint256 wad) private _balances;

    modifier onlyClearingHouse() {
        if (msg.sender != clearingHouse) revert OnlyClearingHouse(msg.sender);
        _;
    }

    constructor(IERC20 token_, address owner_) Ownable(owner_) {
        uint8 decimals = IERC20Metadata(address(token_)).decimals();
        if (address(token_) == address(0) || decimals > 18) revert InvalidParameter();
        token = token_;
        scale = 10 ** (18 - decimals);
    }

    /// @notice Wires the ClearingHouse and the InsuranceFund, once.
    function initialize(address clearingHouse_, address insuranceFund_) external onlyOwner {
        if (clearingHouse != address(0)) revert ClearingHouseAlreadySet();
        if (clearingHouse_ == address(0) || insuranceFund_ == address(0)) revert InvalidParameter();
        clearingHouse = clearingHouse_;
        insuranceFund = insuranceFund_;
    }

    // ===================================================================================== traders

    /// @inheritdoc IVault
    function deposit(uint256 amount) external override {
        _deposit(msg.sender, amount);
    }

    /// @inheritdoc IVault
    function depositFor(address account, uint256 amount) external override {
        if (account == address(0)) revert InvalidParameter();
        _deposit(account, amount);
    }

    /// @inheritdoc IVault
    function withdraw(uint256 amount) external override {
        _withdraw(msg.sender, msg.sender, amount);
    }

    // ============================================================================ ClearingHouse only

    /// @inheritdoc IVault
    function settle(address account, uint256 debitWad, uint256 creditWad, address feeRecipient, uint256 feeWad)
        external
        override
        onlyClearingHouse
    {
        uint256 balance = _balances[account] + creditWad;
        if (balance < debitWad) revert InsufficientBalance(account, balance, debitWad);
        unchecked {
            _balances[account] = balance - debitWad;
        }
        if (feeWad != 0) _balances[feeRecipient] += feeWad;
    }

    /// @inheritdoc IVault
    function credit(address account, uint256 amountWad) external override onlyClearingHouse {
        _balances[account] += amountWad;
    }

    /// @inheritdoc IVault
    function debitUpTo(address account, uint256 amountWad) external override onlyClearingHouse returns (uint256 debited) {
        uint256 balance = _balances[account];
        debited = balance < amountWad ? balance : amountWad;
        unchecked {
            _balances[account] = balance - debited;
        }
    }

    /// @inheritdoc IVault
    function withdrawFor(address account, address to, uint256 amount) external override {
        if (msg.sender != insuranceFund || account != insuranceFund) revert OnlyClearingHouse(msg.sender);
        _withdraw(account, to, amount);
    }

    // ======================================================================================= views

    /// @inheritdoc IVault
    function balanceOf(address account) external view override returns (uint256) {
        return _balances[account] / scale;
    }

    /// @inheritdoc IVault
    function balanceOfWad(address account) external view override returns (uint256) {
        return _balances[account];
    }

    // ==================================================================================== internal

    function _deposit(address account, uint256 amount) private nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        _balances[account] += received * scale;
        emit Deposited(account, msg.sender, received);
    }

    function _withdraw(address account, address to, uint256 amount) private nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 wad = amount * scale;
        uint256 balance = _balances[account];
        if (balance < wad) revert InsufficientBalance(account, balance, wad);
        unchecked {
            _balances[account] = balance - wad;
        }
        token.safeTransfer(to, amount);
        emit Withdrawn(account, to, amount);
    }
}
