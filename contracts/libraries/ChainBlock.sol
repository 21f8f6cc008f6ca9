// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev Arbitrum's system precompile (nitro-contracts `ArbSys`), only the function used here.
interface IArbSys {
    /// @notice The Arbitrum (L2) block number, distinct from `block.number` (the parent chain's, estimated).
    function arbBlockNumber() external view returns (uint256);
}

/// @title The chain's own block number
/// @notice On Arbitrum `block.number` is an estimate of the parent chain's (Ethereum's) block number, shared by
///         the many L2 blocks made in one L1 block (about 12 s: some 48 at four a second). Whatever means "this
///         block" here (the mark observation that starts a block, the fluctuation limit's reference, restriction
///         mode, curve changes before any trade) reads `number(onArbitrum)`: ArbSys(100).arbBlockNumber() on the
///         Arbitrum chain ids, `block.number` elsewhere.
/// @dev A contract decides once, at construction (`onArbitrum()`, kept in an immutable): a chain's id does not
///      change, and an immutable read costs 3 gas where three chain id comparisons on every call cost ~100 (a
///      trade reads the number up to three times). An Arbitrum Orbit chain (any other chain id) must be added
///      here before a deployment on it.
library ChainBlock {
    /// @dev ArbSys, at address(100) on every Arbitrum chain.
    address internal constant ARB_SYS = address(100);
    uint256 internal constant ARBITRUM_ONE = 42161;
    uint256 internal constant ARBITRUM_NOVA = 42170;
    uint256 internal constant ARBITRUM_SEPOLIA = 421614;

    /// @dev Whether this chain is one of the Arbitrum chains, whose `block.number` is the parent chain's.
    function onArbitrum() internal view returns (bool) {
        uint256 id = block.chainid;
        return id == ARBITRUM_ONE || id == ARBITRUM_NOVA || id == ARBITRUM_SEPOLIA;
    }

    /// @dev The current block number of this chain: the L2 block on Arbitrum (`arbitrum`: `onArbitrum()` at
    ///      construction), `block.number` elsewhere.
    function number(bool arbitrum) internal view returns (uint256) {
        return arbitrum ? IArbSys(ARB_SYS).arbBlockNumber() : block.number;
    }
}
