// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Funding math: the receiving side's share when the InsuranceFund cannot pay the pool's side
/// @notice Longs and shorts each read their own cumulative premium fraction; the two differ only after the
///         InsuranceFund could not pay the pool's side of the imbalance, when the receiving side's grows by less
///         (SPEC §3 "Funding never halts"). The payers' side pays the premium in full. tests/model/protocol_model.py
///         is the reference (`pay_funding`).
library FundingMath {
    uint256 private constant WAD = 1e18;

    /// @dev What the receivers get per unit of size when the InsuranceFund pays `paid` of the pool's side (wad):
    ///      (perUnitPaid × payersSize + paid) / receiversSize, rounded down (against the receivers), so that
    ///      what they receive never exceeds what the payers pay plus what the fund paid. `receiversSize` > 0.
    function receiversShare(uint256 perUnitPaid, uint256 payersSize, uint256 receiversSize, uint256 paid)
        internal
        pure
        returns (uint256)
    {
        return (perUnitPaid * payersSize + paid * WAD) / receiversSize;
    }
}
