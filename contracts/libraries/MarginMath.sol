// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAmm} from "../../interfaces/IAmm.sol";
import {MarginRatio} from "./MarginRatio.sol";

/// @title Margin ratio and free collateral, deployed once and linked
/// @notice External wrappers (called by DELEGATECALL) over `MarginRatio`, used by the ClearingHouse off its
///         hot trading path to keep its bytecode small. `equity` = margin − funding payment owed (wad).
library MarginMath {
    /// @notice See MarginRatio.maxPnlMarginRatio.
    function maxPnlMarginRatio(IAmm amm, int256 size, uint256 openNotional, int256 equity, uint256 q, uint256 b)
        external
        view
        returns (int256)
    {
        return MarginRatio.maxPnlMarginRatio(amm, size, openNotional, equity, q, b);
    }

    /// @notice See MarginRatio.liquidationMarginRatio, at the current reserves and index (`getUnderlyingPrice`:
    ///         a view answers during a sequencer outage; `liquidate` itself reads the guarded index).
    function liquidationMarginRatio(IAmm amm, int256 size, uint256 openNotional, int256 equity)
        external
        view
        returns (int256)
    {
        (uint256 q, uint256 b) = amm.getReserve();
        return MarginRatio.liquidationMarginRatio(amm, size, openNotional, equity, q, b, amm.getUnderlyingPrice());
    }

    /// @notice See MarginRatio.freeCollateral, at the current reserves.
    function freeCollateral(IAmm amm, int256 size, uint256 openNotional, int256 marginWithFunding, uint256 imr)
        external
        view
        returns (int256)
    {
        (uint256 q, uint256 b) = amm.getReserve();
        return MarginRatio.freeCollateral(amm, size, openNotional, marginWithFunding, imr, q, b);
    }

    /// @notice See MarginRatio.notionalAndPnl.
    function notionalAndPnl(IAmm amm, int256 size, uint256 openNotional, uint8 option)
        external
        view
        returns (uint256, int256)
    {
        return MarginRatio.notionalAndPnl(amm, size, openNotional, option);
    }
}
