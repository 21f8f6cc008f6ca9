// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IClearingHouse} from "../interfaces/IClearingHouse.sol";

/// @title Insurance fund
/// @notice Its balance is its account in the Vault: fee income and liquidation shares are credited there
///         by the ClearingHouse without a token transfer, and bad debt is paid from there.
contract InsuranceFund is IInsuranceFund, Ownable {
    using SafeERC20 for IERC20;

    IVault public immutable override vault;
    /// @inheritdoc IInsuranceFund
    uint256 public override reserveFloor;

    constructor(IVault vault_, address owner_) Ownable(owner_) {
        vault = vault_;
    }

    /// @inheritdoc IInsuranceFund
    /// @dev Approve this contract (not the Vault) for `amount` first.
    function deposit(uint256 amount) external override {
        if (amount == 0) revert ZeroAmount();
        IERC20 token = vault.token();
        token.safeTransferFrom(msg.sender, address(this), amount);
        token.forceApprove(address(vault), amount);
        vault.depositFor(address(this), amount);
        emit Deposited(msg.sender, amount);
    }

    /// @inheritdoc IInsuranceFund
    function withdraw(address to, uint256 amount) external override onlyOwner {
        if (amount == 0) revert ZeroAmount();
        uint256 available = surplus();
        uint256 wad = amount * vault.scale();
        if (wad > available) revert ExceedsSurplus(wad, available);
        vault.withdrawFor(address(this), to, amount);
        emit Withdrawn(to, amount);
    }

    /// @inheritdoc IInsuranceFund
    function raiseReserveFloor(uint256 floorWad) external override onlyOwner {
        if (floorWad < reserveFloor) revert FloorCannotDecrease(reserveFloor, floorWad);
        reserveFloor = floorWad;
        emit ReserveFloorRaised(floorWad);
    }

    /// @inheritdoc IInsuranceFund
    function fundBalance() public view override returns (uint256) {
        return vault.balanceOfWad(address(this));
    }

    /// @inheritdoc IInsuranceFund
    function surplus() public view override returns (uint256) {
        uint256 b = fundBalance();
        uint256 needed = reserveFloor + badDebtOwed();
        return b > needed ? b - needed : 0;
    }

    /// @inheritdoc IInsuranceFund
    function badDebtOwed() public view override returns (uint256) {
        address ch = vault.clearingHouse();
        return ch == address(0) ? 0 : IClearingHouse(ch).unpaidBadDebt();
    }
}
