// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title Brings OpenZeppelin's TimelockController, unchanged, into the build
/// @notice On live deployments (and local ones with `timelock_delay` > 0) an OpenZeppelin TimelockController
///         owns every protocol contract; scripts/deploy.py deploys it from its own artifact. This abstract
///         contract only makes the compiler emit that artifact (a file without a contract is not compiled).
///         See docs/operations.md.
abstract contract TimelockArtifact is TimelockController {}
