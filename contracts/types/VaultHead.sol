// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev The Vault's first storage word: the ClearingHouse (the only caller of the ledger's bookkeeping
///      functions) and the InsuranceFund's income not yet folded into its ledger entry. One word, because every
///      ClearingHouse call checks its caller anyway: crediting the fund's income then costs a warm write.
///      Layout (bits): clearingHouse 0-159 | fundIncome (wad, uint96) 160-255.
type VaultHead is uint256;

using VaultHeadLibrary for VaultHead global;

library VaultHeadLibrary {
    uint256 private constant ADDRESS_MASK = type(uint160).max;

    /// @notice The fund's income would not fit its 96 bits.
    error FundIncomeOverflow(uint256 income);

    function pack(address clearingHouse_, uint256 fundIncomeWad_) internal pure returns (VaultHead) {
        if (fundIncomeWad_ > type(uint96).max) revert FundIncomeOverflow(fundIncomeWad_);
        return VaultHead.wrap(uint256(uint160(clearingHouse_)) | (fundIncomeWad_ << 160));
    }

    function clearingHouse(VaultHead self) internal pure returns (address) {
        return address(uint160(VaultHead.unwrap(self)));
    }

    /// @dev The fund's pending income (wad), < 2^96.
    function fundIncomeWad(VaultHead self) internal pure returns (uint256) {
        return VaultHead.unwrap(self) >> 160;
    }

    /// @dev The same word with the fund's income replaced (`fundIncomeWad` < 2^96: the caller checks).
    function withFundIncome(VaultHead self, uint256 fundIncomeWad_) internal pure returns (VaultHead) {
        return VaultHead.wrap((VaultHead.unwrap(self) & ADDRESS_MASK) | (fundIncomeWad_ << 160));
    }
}
