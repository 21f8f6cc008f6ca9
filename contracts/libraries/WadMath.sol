// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title 18-decimal fixed-point arithmetic that truncates toward zero
/// @notice Reproduces Perpetual Protocol v1's Decimal / SignedDecimal rounding: `a * b / 1e18` and
///         `a * 1e18 / b`, truncated toward zero for signed operands as Solidity's `/` does.
library WadMath {
    uint256 internal constant WAD = 1e18;
    int256 internal constant IWAD = 1e18;

    /// @dev a * b / 1e18, rounded down.
    function mulWad(uint256 a, uint256 b) internal pure returns (uint256) {
        return a * b / WAD;
    }

    /// @dev a * 1e18 / b, rounded down. Reverts (panic) when b == 0.
    function divWad(uint256 a, uint256 b) internal pure returns (uint256) {
        return a * WAD / b;
    }

    /// @dev a * b / 1e18, truncated toward zero.
    function mulWad(int256 a, int256 b) internal pure returns (int256) {
        return a * b / IWAD;
    }

    /// @dev a * 1e18 / b, truncated toward zero.
    function divWad(int256 a, int256 b) internal pure returns (int256) {
        return a * IWAD / b;
    }

    /// @dev |x| as uint256.
    function abs(int256 x) internal pure returns (uint256) {
        return uint256(x >= 0 ? x : -x);
    }

    /// @dev uint256 → int256, reverting (panic) on overflow.
    function toInt(uint256 x) internal pure returns (int256) {
        require(x <= uint256(type(int256).max));
        return int256(x);
    }
}
