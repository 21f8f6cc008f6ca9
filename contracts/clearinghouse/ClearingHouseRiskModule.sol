// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVault} from "../../interfaces/IVault.sol";
import {ClearingHouseStorage} from "./ClearingHouseStorage.sol";
import {Liquidation} from "./Liquidation.sol";
import {Settlement} from "./Settlement.sol";
import {CurveChanges} from "./CurveChanges.sol";

/// @title ClearingHouse risk module: liquidation, settlement and curve changes (funding runs in the ClearingHouse itself)
/// @notice Runs only by DELEGATECALL from the ClearingHouse, on the ClearingHouse's storage and with its
///         address in events and vault calls; deployed with the same Vault and InsuranceFund (immutables).
///         Calling it directly changes nothing but its own unused storage. Each job is its own file:
///         `Liquidation`, `Settlement`, `CurveChanges`; this contract only puts them in one deployable module
///         (the ClearingHouse's bytecode could not hold them too).
contract ClearingHouseRiskModule is Liquidation, Settlement, CurveChanges {
    constructor(IVault vault_, address insuranceFund_, address owner_)
        ClearingHouseStorage(vault_, insuranceFund_, 1e18, 0, 0, 0, owner_)
    {}
}
