// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title The Vault's settlement entry for the ClearingHouse's hot paths (protocol-internal)
/// @notice Not part of the public interface (`IVault`): the ClearingHouse's trades, margin changes,
///         liquidations and funding move the trader's ledger entry and the InsuranceFund's income here.
interface IVaultFund {
    /// @notice ClearingHouse only. Debits `debitWad` from `account` (reverts if short) and credits `creditWad`
    ///         to it (nothing when `account` is zero), and credits `fundWad` to the InsuranceFund.
    /// @dev The fund's share goes to an income field that shares its slot with the ClearingHouse address
    ///      the caller check reads anyway, so a trade touches one ledger slot (the trader's), not two.
    ///      `account` is a trader or a liquidator, never the fund itself.
    /// @return balanceAfter `account`'s balance afterwards (wad; 0 when `account` is zero)
    function settleMargin(address account, uint256 debitWad, uint256 creditWad, uint256 fundWad)
        external
        returns (uint256 balanceAfter);
}
