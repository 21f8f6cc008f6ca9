// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {WadMath} from "./WadMath.sol";
import {PoolMath} from "./PoolMath.sol";

/// @title Cost of changing a pool's curve
/// @notice The pool is the counterparty of the traders' net position. Moving the curve (k adjustment or
///         repeg) changes what closing that net position would exchange; the difference is what the
///         protocol owes (positive cost) or gains (negative cost), paid by or to the InsuranceFund.
library KMath {
    using WadMath for uint256;

    /// @notice Cost of moving the pool from (q0, b0) to (q1, b1) with the traders' net position `netSize`.
    /// @dev Net long: the pool would pay `getOutputPrice(ADD, S)` to close it, cost = paid(new) − paid(old).
    ///      Net short: the pool would receive `getOutputPrice(REMOVE, |S|)`, cost = received(old) − received(new).
    ///      Both values use the pool's own rounding, so the cost is exact to the wei.
    function curveChangeCost(int256 netSize, uint256 q0, uint256 b0, uint256 q1, uint256 b1)
        internal
        pure
        returns (int256 cost)
    {
        if (netSize == 0) return 0;
        uint256 size = WadMath.abs(netSize);
        bool isLong = netSize > 0;
        int256 before = WadMath.toInt(PoolMath.getOutputPrice(isLong, size, q0, b0));
        int256 afterChange = WadMath.toInt(PoolMath.getOutputPrice(isLong, size, q1, b1));
        cost = isLong ? afterChange - before : before - afterChange;
    }

    /// @notice Reserves scaled by `factor` (wad): the price is unchanged up to rounding, depth changes.
    function scaled(uint256 q, uint256 b, uint256 factor) internal pure returns (uint256, uint256) {
        return (q.mulWad(factor), b.mulWad(factor));
    }

    /// @notice Reserves with the base unchanged and the quote set so that quote / base = `price`.
    function repegged(uint256 b, uint256 price) internal pure returns (uint256, uint256) {
        return (b.mulWad(price), b);
    }
}
