// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVault} from "./IVault.sol";

/// @title Insurance fund: the protocol's backstop
/// @notice Its money is an account in the Vault (so that fee income costs no token transfer). It
///         receives spread fees, liquidation shares and the funding surplus; it pays bad debt, the
///         funding deficit and k-adjustment costs. Anyone may top it up; only the ClearingHouse draws on
///         it; the owner may withdraw only the surplus: above `reserveFloor` (which can only rise) and the bad
///         debt still owed.
interface IInsuranceFund {
    /// @dev Zero amount.
    error ZeroAmount();
    /// @dev The owner asked for more than the surplus above the reserve floor.
    error ExceedsSurplus(uint256 requested, uint256 surplus);
    /// @dev The reserve floor may only rise.
    error FloorCannotDecrease(uint256 current, uint256 requested);

    event Deposited(address indexed payer, uint256 amount);
    event Withdrawn(address indexed to, uint256 amount);
    event ReserveFloorRaised(uint256 floorWad);

    /// @notice Adds `amount` token units (after `approve` to the Vault) to the fund.
    function deposit(uint256 amount) external;
    /// @notice Owner: withdraws `amount` token units of surplus to `to`.
    function withdraw(address to, uint256 amount) external;
    /// @notice Owner: raises the reserve floor (wad) below which nothing can be withdrawn.
    function raiseReserveFloor(uint256 floorWad) external;
    /// @notice The fund's balance in wad.
    function fundBalance() external view returns (uint256);
    /// @notice The fund's withdrawable surplus (wad): its balance minus everything markets need from it,
    ///         that is the reserve floor and the bad debt it still owes (`badDebtOwed`). A market's payout
    ///         beyond its collateral is paid by the fund at that moment (prepaid bad debt), so no market is
    ///         left in deficit behind the surplus. The owner withdraws at most this; curve changes and the
    ///         pool's side of funding spend at most this.
    function surplus() external view returns (uint256);
    /// @notice Bad debt the fund could not pay when it arose (wad; the ClearingHouse's `unpaidBadDebt`, the
    ///         markets concerned halted): excluded from the surplus.
    function badDebtOwed() external view returns (uint256);
    /// @notice The floor in wad.
    function reserveFloor() external view returns (uint256);
    /// @notice The Vault holding the fund's money (its account there), immutable.
    function vault() external view returns (IVault);
}
