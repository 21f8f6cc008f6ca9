// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title Collateral vault: the only contract that moves traders' tokens
/// @notice Holds one quote token for everyone: traders' free balances, the InsuranceFund's and the fee
///         pool's balances, and (as tokens, booked in the ClearingHouse) every position's margin and PnL.
///         Internally every balance is a wad; at the external face amounts are in the token's decimals,
///         and converting wad → token rounds down when paying out (the dust stays in the vault).
interface IVault {
    /// @dev Zero amount.
    error ZeroAmount();
    /// @dev `account` asked for `requested` wad but has `available`.
    error InsufficientBalance(address account, uint256 available, uint256 requested);
    /// @dev Only the ClearingHouse may move booked balances.
    error OnlyClearingHouse(address caller);
    /// @dev A required address (the token, the ClearingHouse, the InsuranceFund, a deposit's beneficiary) is zero.
    error ZeroAddress();
    /// @dev The token has more than 18 decimals: balances are wad internally, so it cannot be scaled up to them.
    error UnsupportedDecimals(uint8 decimals);
    /// @dev The ClearingHouse was already set.
    error ClearingHouseAlreadySet();

    /// @notice `amount` token units deposited by `payer` to `account`'s free balance.
    event Deposited(address indexed account, address indexed payer, uint256 amount);
    /// @notice `amount` token units paid out of `account`'s free balance to `to`.
    event Withdrawn(address indexed account, address indexed to, uint256 amount);

    /// @notice Deposits `amount` token units (after `approve`) to the caller's free balance.
    function deposit(uint256 amount) external;
    /// @notice Deposits `amount` token units from the caller to `account`'s free balance.
    function depositFor(address account, uint256 amount) external;
    /// @notice Withdraws `amount` token units from the caller's free balance. Allowed while paused.
    function withdraw(uint256 amount) external;

    /// @notice Free balance of `account` in token units, rounded down.
    function balanceOf(address account) external view returns (uint256);
    /// @notice Free balance of `account` in wad (exact).
    function balanceOfWad(address account) external view returns (uint256);
    /// @notice The collateral token.
    function token() external view returns (IERC20);
    /// @notice 10 ** (18 − token decimals): wad per token unit.
    function scale() external view returns (uint256);
    /// @notice The ClearingHouse (zero until wired).
    function clearingHouse() external view returns (address);
    /// @notice The InsuranceFund's account (zero until wired): fee income is credited to it.
    function insuranceFund() external view returns (address);

    // ------------------------------------------------------------------------------------------ owner
    /// @notice Wires the ClearingHouse and the InsuranceFund, once (`ClearingHouseAlreadySet`); neither may be zero
    ///         (`ZeroAddress`).
    function initialize(address clearingHouse_, address insuranceFund_) external;

    // ---------------------------------------------------------------------------- ClearingHouse only
    /// @notice Debits `debitWad` from `account` (reverts if short), credits `creditWad` to it, and credits
    ///         `feeWad` to `feeRecipient` (a trade's whole ledger movement in one call). `feeRecipient` zero
    ///         means the InsuranceFund; `account` zero with nothing to debit or credit touches no account.
    /// @dev The fund's share is kept next to the ClearingHouse address that the caller check reads anyway,
    ///      so a trade touches one ledger slot; `balanceOf`/`balanceOfWad` of the fund include it.
    function settle(address account, uint256 debitWad, uint256 creditWad, address feeRecipient, uint256 feeWad)
        external;
    /// @notice Credits `amountWad` to `account` (liquidator fee, fee pool, insurance income).
    function credit(address account, uint256 amountWad) external;
    /// @notice Debits up to `amountWad` from `account`; returns what was debited.
    function debitUpTo(address account, uint256 amountWad) external returns (uint256 debited);
    /// @notice Pays `amount` token units out of `account`'s balance to `to` (InsuranceFund withdrawals).
    function withdrawFor(address account, address to, uint256 amount) external;
}
