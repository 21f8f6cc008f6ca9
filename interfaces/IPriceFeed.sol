// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Index price source for the markets
/// @notice Every price is an 18-decimal fixed-point number ("wad"), whatever the source's own decimals.
interface IPriceFeed {
    /// @notice The latest index price of `key`.
    /// @param key market key, e.g. bytes32("ETH")
    /// @return price wad
    function getPrice(bytes32 key) external view returns (uint256 price);

    /// @notice The latest index price of `key` for a decision that can go against a position's owner while
    ///         they may be unable to act: opening or increasing a position, liquidating one. Refused wherever
    ///         `getPrice` is, and also while the chain's sequencer is down and for a grace period after it is back.
    /// @param key market key
    /// @return price wad
    function getGuardedPrice(bytes32 key) external view returns (uint256 price);

    /// @notice Reverts when `getGuardedPrice` would (the sequencer, a stale or bad latest round); read before a
    ///         position is opened or increased. May cache what it read (not a view).
    /// @param key market key
    function checkGuarded(bytes32 key) external;

    /// @notice Time-weighted average index price of `key` over the last `interval` seconds.
    /// @dev When the source's history is shorter than `interval`, the average covers the history there is.
    /// @param key market key
    /// @param interval seconds, > 0
    /// @return price wad
    function getTwapPrice(bytes32 key, uint256 interval) external view returns (uint256 price);
}
