// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IVault} from "../interfaces/IVault.sol";
import {VaultHead, VaultHeadLibrary} from "./types/VaultHead.sol";

/// @title Collateral vault
/// @notice A ledger of wad balances over one ERC-20. Deposits credit what actually arrived (so a
///         fee-on-transfer token cannot inflate a balance); withdrawals pay token units rounded down.
/// @dev The InsuranceFund's balance is its ledger entry plus the head word's fund income, the income `settle` credits
///      when the fee recipient is zero (the ClearingHouse's trades, margin changes, liquidations and funding);
///      the income is folded into the entry before the fund is debited (`debitUpTo`, `withdrawFor`), and
///      whenever it would overflow its 96 bits; `settle` folds it in when a debit of the fund needs it.
contract Vault is IVault, Ownable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @inheritdoc IVault
    IERC20 public immutable override token;
    /// @inheritdoc IVault
    uint256 public immutable override scale;
    /// @dev The ClearingHouse (set once after deployment) and the InsuranceFund's income not yet folded into
    ///      its ledger entry: one word (`VaultHead`), read by the caller check of every ClearingHouse call anyway.
    VaultHead private _head;
    /// @notice The InsuranceFund contract may pay out of its own account with `withdrawFor`.
    address public override insuranceFund;

    mapping(address account => uint256 wad) private _balances;

    modifier onlyClearingHouse() {
        if (msg.sender != _head.clearingHouse()) revert OnlyClearingHouse(msg.sender);
        _;
    }

    constructor(IERC20 token_, address owner_) Ownable(owner_) {
        uint8 decimals = IERC20Metadata(address(token_)).decimals();
        if (address(token_) == address(0)) revert ZeroAddress();
        if (decimals > 18) revert UnsupportedDecimals(decimals);
        token = token_;
        scale = 10 ** (18 - decimals);
    }

    /// @inheritdoc IVault
    function initialize(address clearingHouse_, address insuranceFund_) external override onlyOwner {
        VaultHead head = _head;
        if (head.clearingHouse() != address(0)) revert ClearingHouseAlreadySet();
        if (clearingHouse_ == address(0) || insuranceFund_ == address(0)) revert ZeroAddress();
        _head = VaultHeadLibrary.pack(clearingHouse_, head.fundIncomeWad());
        insuranceFund = insuranceFund_;
    }

    // ===================================================================================== traders

    /// @inheritdoc IVault
    function deposit(uint256 amount) external override {
        _deposit(msg.sender, amount);
    }

    /// @inheritdoc IVault
    function depositFor(address account, uint256 amount) external override {
        if (account == address(0)) revert ZeroAddress();
        _deposit(account, amount);
    }

    /// @inheritdoc IVault
    function withdraw(uint256 amount) external override {
        _withdraw(msg.sender, msg.sender, amount);
    }

    // ============================================================================ ClearingHouse only

    /// @inheritdoc IVault
    /// @dev Reads (and, for the fund's income, writes) the head word: a trade touches one ledger slot.
    function settle(address account, uint256 debitWad, uint256 creditWad, address feeRecipient, uint256 feeWad)
        external
        override
    {
        VaultHead head = _head;
        if (msg.sender != head.clearingHouse()) revert OnlyClearingHouse(msg.sender);
        if (account != address(0) || debitWad != 0 || creditWad != 0) {
            uint256 balance = _balances[account] + creditWad;
            if (balance < debitWad) {
                // the fund's pending income is part of its balance: fold it in (a path no trade takes)
                uint256 pending = head.fundIncomeWad();
                if (account != insuranceFund || pending == 0) revert InsufficientBalance(account, balance, debitWad);
                balance += pending;
                head = head.withFundIncome(0);
                _head = head;
                if (balance < debitWad) revert InsufficientBalance(account, balance, debitWad);
            }
            unchecked {
                _balances[account] = balance - debitWad; // checked just above
            }
        }
        if (feeWad == 0) return;
        if (feeRecipient != address(0)) {
            _balances[feeRecipient] += feeWad;
            return;
        }
        uint256 income = head.fundIncomeWad() + feeWad;
        if (income > type(uint96).max) {
            _balances[insuranceFund] += income;
            income = 0;
        }
        _head = head.withFundIncome(income); // income < 2^96 here
    }

    /// @inheritdoc IVault
    function credit(address account, uint256 amountWad) external override onlyClearingHouse {
        _balances[account] += amountWad;
    }

    /// @inheritdoc IVault
    function debitUpTo(address account, uint256 amountWad) external override onlyClearingHouse returns (uint256 debited) {
        // the fund pays out of its pending income first (a warm slot), then out of its ledger entry
        VaultHead head = _head;
        uint256 income = account == insuranceFund ? head.fundIncomeWad() : 0;
        if (income >= amountWad) {
            unchecked {
                if (amountWad != 0) _head = head.withFundIncome(income - amountWad); // <= income < 2^96
            }
            return amountWad;
        }
        if (income != 0) _head = head.withFundIncome(0);
        uint256 balance = _balances[account] + income;
        debited = balance < amountWad ? balance : amountWad;
        unchecked {
            _balances[account] = balance - debited;
        }
    }

    /// @inheritdoc IVault
    function withdrawFor(address account, address to, uint256 amount) external override {
        if (msg.sender != insuranceFund || account != insuranceFund) revert OnlyClearingHouse(msg.sender);
        _foldFundIncome();
        _withdraw(account, to, amount);
    }

    // ======================================================================================= views

    /// @inheritdoc IVault
    function clearingHouse() external view override returns (address) {
        return _head.clearingHouse();
    }

    /// @inheritdoc IVault
    function balanceOf(address account) external view override returns (uint256) {
        return _balanceOf(account) / scale;
    }

    /// @inheritdoc IVault
    function balanceOfWad(address account) external view override returns (uint256) {
        return _balanceOf(account);
    }

    // ==================================================================================== internal

    function _balanceOf(address account) private view returns (uint256) {
        uint256 balance = _balances[account];
        return account == insuranceFund && account != address(0) ? balance + _head.fundIncomeWad() : balance;
    }

    /// @dev Moves the fund's pending income into its ledger entry (before the fund is debited).
    function _foldFundIncome() private {
        VaultHead head = _head;
        uint256 income = head.fundIncomeWad();
        if (income != 0) {
            _head = head.withFundIncome(0);
            _balances[insuranceFund] += income;
        }
    }

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
