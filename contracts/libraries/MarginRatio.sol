// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAmm} from "../../interfaces/IAmm.sol";
import {WadMath} from "./WadMath.sol";
import {PositionMath} from "./PositionMath.sol";
import {PoolMath} from "./PoolMath.sol";

/// @title Margin ratio and free collateral with the TWAP and the oracle (internal functions)
/// @notice Inlined where gas matters (the risk module's liquidation); `MarginMath` wraps the same code in
///         external functions for the ClearingHouse, to keep its bytecode small.
/// @dev `equity` is the margin minus the funding payment owed (wad, signed).
library MarginRatio {
    using WadMath for uint256;
    using WadMath for int256;

    uint256 internal constant TWAP_INTERVAL = 15 minutes;
    /// @dev v1's oracle spread limit: from this far between spot and index, the index-based ratio counts too.
    uint256 internal constant ORACLE_SPREAD_LIMIT = 0.1e18;
    uint8 internal constant SPOT_PRICE = 0;
    uint8 internal constant TWAP = 1;

    /// @notice The margin ratio at the spot price of reserves (q, b): (equity + PnL) / notional.
    function spotMarginRatio(int256 size, uint256 openNotional, int256 equity, uint256 q, uint256 b)
        internal
        pure
        returns (int256)
    {
        (uint256 notional, int256 pnl) = PositionMath.spotNotionalAndPnl(size, openNotional, q, b);
        return ratio(equity, notional, pnl);
    }

    /// @notice v1's MAX_PNL margin ratio at reserves (q, b): (equity + PnL) / notional with the PnL of spot
    ///         or of the 15-minute TWAP, whichever is higher (the TWAP on a tie).
    function maxPnlMarginRatio(IAmm amm, int256 size, uint256 openNotional, int256 equity, uint256 q, uint256 b)
        internal
        view
        returns (int256)
    {
        (uint256 spotNotional, int256 spotPnl) = PositionMath.spotNotionalAndPnl(size, openNotional, q, b);
        (uint256 twapNotional, int256 twapPnl) =
            PositionMath.twapNotionalAndPnl(size, openNotional, q, b, amm.getTwapPrice(TWAP_INTERVAL));
        return spotPnl > twapPnl ? ratio(equity, spotNotional, spotPnl) : ratio(equity, twapNotional, twapPnl);
    }

    /// @notice The margin ratio that decides liquidation: MAX_PNL, and the oracle-based ratio at `indexPrice` if
    ///         higher when the spot at (q, b) is >= 10 % from it (v1's oracle spread rule, as Amm.isOverSpreadLimit).
    function liquidationMarginRatio(
        IAmm amm,
        int256 size,
        uint256 openNotional,
        int256 equity,
        uint256 q,
        uint256 b,
        uint256 indexPrice
    ) internal view returns (int256 marginRatio) {
        marginRatio = maxPnlMarginRatio(amm, size, openNotional, equity, q, b);
        uint256 spot = PoolMath.spotPrice(q, b);
        uint256 diff = spot > indexPrice ? spot - indexPrice : indexPrice - spot;
        if (diff.divWad(indexPrice) >= ORACLE_SPREAD_LIMIT) {
            (uint256 notional, int256 pnl) = PositionMath.notionalAndPnlAtPrice(size, openNotional, indexPrice);
            int256 oracleRatio = ratio(equity, notional, pnl);
            if (oracleRatio > marginRatio) marginRatio = oracleRatio;
        }
    }

    /// @notice min(margin + funding, margin + funding + PnL) − initMarginRatio × (openNotional if long,
    ///         positionNotional if short), the PnL the less favourable of spot and TWAP (spot on a tie).
    function freeCollateral(
        IAmm amm,
        int256 size,
        uint256 openNotional,
        int256 marginWithFunding,
        uint256 imr,
        uint256 q,
        uint256 b
    ) internal view returns (int256) {
        (uint256 spotNotional, int256 spotPnl) = PositionMath.spotNotionalAndPnl(size, openNotional, q, b);
        (uint256 twapNotional, int256 twapPnl) =
            PositionMath.twapNotionalAndPnl(size, openNotional, q, b, amm.getTwapPrice(TWAP_INTERVAL));
        (uint256 notional, int256 pnl) = spotPnl > twapPnl ? (twapNotional, twapPnl) : (spotNotional, spotPnl);
        int256 collateral = pnl > 0 ? marginWithFunding : marginWithFunding + pnl;
        uint256 base = size > 0 ? openNotional : notional;
        return collateral - base.mulWad(imr).toInt();
    }

    /// @notice Position notional and unrealized PnL by spot (0), 15-minute TWAP (1) or oracle (2).
    function notionalAndPnl(IAmm amm, int256 size, uint256 openNotional, uint8 option)
        internal
        view
        returns (uint256, int256)
    {
        if (size == 0) return (0, 0);
        if (option == SPOT_PRICE || option == TWAP) {
            (uint256 q, uint256 b) = amm.getReserve();
            if (option == SPOT_PRICE) return PositionMath.spotNotionalAndPnl(size, openNotional, q, b);
            return PositionMath.twapNotionalAndPnl(size, openNotional, q, b, amm.getTwapPrice(TWAP_INTERVAL));
        }
        return PositionMath.notionalAndPnlAtPrice(size, openNotional, amm.getUnderlyingPrice());
    }

    /// @notice A margin ratio: (equity + PnL) / notional, wad, rounded as v1 (the one place it is computed).
    function ratio(int256 equity, uint256 notional, int256 pnl) internal pure returns (int256) {
        return (equity + pnl).divWad(notional.toInt());
    }
}
