// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAmm} from "../../interfaces/IAmm.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {PoolMath} from "../libraries/PoolMath.sol";
import {StoredPosition} from "../types/PositionSlots.sol";
import {MarginRatio} from "../libraries/MarginRatio.sol";
import {PositionMath} from "../libraries/PositionMath.sol";
import {PositionTransitions} from "./PositionTransitions.sol";

/// @title Liquidation
/// @notice `liquidate`: a position below the maintenance ratio (the better of spot and TWAP, v1) is closed, partly
///         when that leaves margin for the penalty, and the penalty split between the liquidator and the fund.
///         Runs in the `ClearingHouseRiskModule`, by DELEGATECALL from the ClearingHouse.
abstract contract Liquidation is PositionTransitions {
    using WadMath for uint256;
    using WadMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @notice See IClearingHouse.
    function liquidate(IAmm amm, address trader) external {
        Params memory p = _unpack(_params);
        Market memory market = _listedMarket(amm);
        StoredPosition memory old = _positions[amm][trader].load();
        if (old.size == 0) revert NoPosition();
        // refused while the index is stale or bad, the sequencer down or in its grace period (as opening is)
        uint256 indexPrice = amm.getGuardedUnderlyingPrice();
        IAmm.SwapResult memory state = amm.getTradingState();
        {
            int256 ratio = MarginRatio.liquidationMarginRatio(
                amm, old.size, old.openNotional, _equity(market, old), state.quoteReserve, state.baseReserve, indexPrice
            );
            if (ratio >= int256(uint256(p.maintenanceMarginRatio))) {
                revert MarginRatioHealthy(ratio, p.maintenanceMarginRatio);
            }
        }
        Result memory r;
        uint256 penalty;
        uint256 toLiquidator;
        uint256 liquidationBadDebt;
        uint256 toInsurance;
        int256 spotRatio = _spotMarginRatio(market, old, state.quoteReserve, state.baseReserve);
        if (
            spotRatio > int256(uint256(p.liquidationFeeRatio)) && p.partialLiquidationRatio != 0
                && p.partialLiquidationRatio < 1e18 && _partialKeepsPenalty(market, old, p, state)
        ) {
            r = _partialClose(amm, market, old, p.partialLiquidationRatio, state);
            penalty = r.exchangedQuote.mulWad(p.liquidationFeeRatio);
            // predicted by _partialKeepsPenalty on the same pool; a named refusal, never a panic
            if (r.badDebt != 0 || r.margin < penalty) revert BadDebt(r.badDebt + penalty);
            toLiquidator = penalty / 2;
            r.margin -= penalty;
            // the penalty leaves the market: half to the liquidator, half to the InsuranceFund
            market.collateral = (int256(market.collateral) - penalty.toInt()).toInt96();
            toInsurance = penalty - toLiquidator;
        } else {
            penalty = old.margin;
            (r,) = _close(amm, market, old, 0);
            uint256 remain = uint256(-r.marginToVault);
            toLiquidator = r.exchangedQuote.mulWad(p.liquidationFeeRatio) / 2;
            uint256 fromInsurance = r.badDebt;
            if (toLiquidator > remain) {
                // the InsuranceFund pays what the margin cannot (v1 booked the remainder twice; we do not)
                liquidationBadDebt = toLiquidator - remain;
                fromInsurance += liquidationBadDebt;
                remain = 0;
            } else {
                remain -= toLiquidator;
            }
            // the whole remaining margin and the liquidator's fee leave the market; bad debt enters it
            market.collateral = (
                int256(market.collateral) - (remain + toLiquidator).toInt() + fromInsurance.toInt()
            ).toInt96();
            toInsurance = remain;
            if (fromInsurance != 0) {
                // what the fund prepaid for this loss is not paid twice
                fromInsurance = _netPrepaid(amm, market, fromInsurance);
                if (fromInsurance != 0) _drawInsurance(amm, market, fromInsurance);
            }
            r.marginToVault = 0;
        }
        if (market.collateral < 0) (toInsurance, toLiquidator) = _containPayout(amm, market, toInsurance, toLiquidator);
        // the liquidator's fee and the fund's share in one ledger call
        _vaultSettle(msg.sender, 0, toLiquidator, toInsurance);
        market.lastRestrictionBlock = _blockNumber();
        _trackSize(market, old.size, r.size);
        _writeMarket(amm, market);
        _store(amm, trader, r, market);
        emit RestrictionModeEntered(address(amm), market.lastRestrictionBlock);
        emit PositionLiquidated(
            trader, address(amm), r.exchangedQuote, WadMath.abs(r.exchangedSize), toLiquidator, msg.sender, liquidationBadDebt
        );
        _emitPositionChanged(trader, amm, r, 0, penalty);
    }

    /// @dev A liquidation paid out more than the market holds (its collateral is below zero): the
    ///      InsuranceFund prepays the difference; what it cannot pay is cut from the payouts, the fund's share
    ///      first, then the liquidator's fee, so that the market never pays out money it does not hold.
    function _containPayout(IAmm amm, Market memory market, uint256 toInsurance, uint256 toLiquidator)
        internal
        returns (uint256, uint256)
    {
        uint256 unpaid = _prepay(amm, market);
        if (unpaid == 0) return (toInsurance, toLiquidator);
        uint256 cut = unpaid < toInsurance ? unpaid : toInsurance;
        toInsurance -= cut;
        unpaid -= cut;
        uint256 cutFee = unpaid < toLiquidator ? unpaid : toLiquidator;
        toLiquidator -= cutFee;
        unpaid -= cutFee;
        if (unpaid != 0) revert InsuranceFundInsufficient(unpaid, 0);
        market.collateral = (int256(market.collateral) + (cut + cutFee).toInt()).toInt96();
        return (toInsurance, toLiquidator);
    }

    /// @dev Whether a partial liquidation leaves margin for its penalty. It realises only its share of the
    ///      PnL but settles all the funding owed: when that funding is larger than the margin's share, the
    ///      partial close would end in bad debt (or a margin below the penalty) and the position is
    ///      liquidated whole instead. Computed on the pool before the trade, exactly as the trade will be.
    function _partialKeepsPenalty(Market memory market, StoredPosition memory old, Params memory p, IAmm.SwapResult memory state)
        internal
        pure
        returns (bool)
    {
        bool isLong = old.size > 0;
        uint256 absSize = WadMath.abs(old.size);
        uint256 partSize = WadMath.abs(int256(old.size).mulWad(p.partialLiquidationRatio.toInt()));
        uint256 notional = PoolMath.getOutputPrice(isLong, partSize, state.quoteReserve, state.baseReserve);
        (uint256 oldNotional, int256 pnl) =
            PositionMath.spotNotionalAndPnl(old.size, old.openNotional, state.quoteReserve, state.baseReserve);
        if (oldNotional <= notional) return false;
        // reducing a long removes quote from the pool, reducing a short adds it
        uint256 base = PoolMath.getInputPrice(!isLong, notional, state.quoteReserve, state.baseReserve);
        int256 realized = pnl.mulWad(base.toInt()).divWad(absSize.toInt());
        int256 remain = int256(uint256(old.margin)) + realized - _fundingPayment(market, old);
        return remain >= notional.mulWad(p.liquidationFeeRatio).toInt();
    }
}
