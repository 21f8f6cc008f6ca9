// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {WadMath} from "./WadMath.sol";
import {PoolMath} from "./PoolMath.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title Position valuation
/// @notice Notional and unrealized PnL of a position: at the pool's spot (what closing it now would
///         return, with the pool's rounding), at the mark TWAP (the spot notional scaled by TWAP / spot,
///         so that a price constant over the window gives exactly the spot notional, as in Perp v1), or at
///         the oracle price (|size| × price, as in v1).
library PositionMath {
    using WadMath for uint256;

    /// @dev Long: PnL = notional − openNotional; short: openNotional − notional.
    function spotNotionalAndPnl(int256 size, uint256 openNotional, uint256 quoteReserve, uint256 baseReserve)
        internal
        pure
        returns (uint256 notional, int256 pnl)
    {
        if (size == 0) return (0, 0);
        notional = PoolMath.getOutputPrice(size > 0, WadMath.abs(size), quoteReserve, baseReserve);
        pnl = _pnl(size, openNotional, notional);
    }

    /// @dev Notional = spot notional × twapPrice / spotPrice (one rounding, down).
    function twapNotionalAndPnl(
        int256 size,
        uint256 openNotional,
        uint256 quoteReserve,
        uint256 baseReserve,
        uint256 twapPrice
    ) internal pure returns (uint256 notional, int256 pnl) {
        if (size == 0) return (0, 0);
        uint256 spotNotional = PoolMath.getOutputPrice(size > 0, WadMath.abs(size), quoteReserve, baseReserve);
        notional = Math.mulDiv(spotNotional, twapPrice, PoolMath.spotPrice(quoteReserve, baseReserve));
        pnl = _pnl(size, openNotional, notional);
    }

    /// @dev Notional = |size| × price, rounded down.
    function notionalAndPnlAtPrice(int256 size, uint256 openNotional, uint256 price)
        internal
        pure
        returns (uint256 notional, int256 pnl)
    {
        if (size == 0) return (0, 0);
        notional = WadMath.abs(size).mulWad(price);
        pnl = _pnl(size, openNotional, notional);
    }

    function _pnl(int256 size, uint256 openNotional, uint256 notional) private pure returns (int256) {
        return size > 0
            ? WadMath.toInt(notional) - WadMath.toInt(openNotional)
            : WadMath.toInt(openNotional) - WadMath.toInt(notional);
    }
}
