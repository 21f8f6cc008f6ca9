// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAmm} from "../../interfaces/IAmm.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {StoredPosition} from "../types/PositionSlots.sol";
import {PoolMath} from "../libraries/PoolMath.sol";
import {PositionMath} from "../libraries/PositionMath.sol";
import {ClearingHouseCollateral} from "./ClearingHouseCollateral.sol";

/// @title Position transitions
/// @notice What a trade does to a position, as a `Result` built in memory and applied once by the caller: increase,
///         reduce, reverse, close, partial close; the holding and open-interest caps; the `PositionChanged` event.
abstract contract PositionTransitions is ClearingHouseCollateral {
    using WadMath for uint256;
    using WadMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @dev New position or same side: swap `notional` in, margin += notional / leverage.
    function _increase(
        IAmm amm,
        Market memory market,
        StoredPosition memory old,
        Side side,
        uint256 notional,
        uint256 leverage,
        uint256 baseLimit
    ) internal returns (Result memory r, IAmm.SwapResult memory swap) {
        // a new or larger position needs the index a liquidation would need: not stale or bad, the sequencer up
        // and past its grace period
        bool isLong = side == Side.BUY;
        swap = amm.swapInputGuarded(isLong ? IAmm.Dir.ADD_TO_AMM : IAmm.Dir.REMOVE_FROM_AMM, notional, baseLimit);
        // dust that buys no base would lock its margin in a position of size zero
        if (swap.amount == 0) revert ZeroAmount();
        (r.quoteReserve, r.baseReserve) = (swap.quoteReserve, swap.baseReserve);
        r.exchangedSize = isLong ? swap.amount.toInt() : -swap.amount.toInt();
        r.size = int256(old.size) + r.exchangedSize;
        uint256 marginRequirement = notional.divWad(leverage);
        r.fundingPayment = _fundingPayment(market, old);
        int256 remain = int256(uint256(old.margin)) + marginRequirement.toInt() - r.fundingPayment;
        if (remain < 0) revert BadDebt(uint256(-remain));
        r.margin = uint256(remain);
        r.openNotional = uint256(old.openNotional) + notional;
        r.exchangedQuote = notional;
        r.marginToVault = marginRequirement.toInt();
        // v1 reports the PnL of the position as it was, valued at the pool after the trade
        (, r.unrealizedPnlAfter) = PositionMath.spotNotionalAndPnl(old.size, old.openNotional, r.quoteReserve, r.baseReserve);
    }

    /// @dev Opposite side: reduce when the position is worth more than the new notional, else close
    ///      and open the rest the other way at the same leverage. `state`: the pool before the trade.
    function _openReverse(
        IAmm amm,
        Market memory market,
        StoredPosition memory old,
        Side side,
        uint256 quoteAssetAmount,
        uint256 leverage,
        uint256 baseLimit,
        bool canOverFluctuationLimit,
        IAmm.SwapResult memory state
    ) internal returns (Result memory r) {
        uint256 notional = quoteAssetAmount.mulWad(leverage);
        (uint256 oldNotional, int256 unrealizedPnl) =
            PositionMath.spotNotionalAndPnl(old.size, old.openNotional, state.quoteReserve, state.baseReserve);
        if (oldNotional > notional) {
            _updateOpenInterest(amm, -notional.toInt(), state.openInterestNotionalCap);
            return _reduce(amm, market, old, side, notional, baseLimit, canOverFluctuationLimit, oldNotional, unrealizedPnl);
        }
        (Result memory closed,) = _close(amm, market, old, 0);
        if (closed.badDebt != 0) revert BadDebt(closed.badDebt);
        uint256 rest = notional - closed.exchangedQuote;
        if (rest.divWad(leverage) == 0) return closed;
        uint256 restLimit = baseLimit > WadMath.abs(closed.exchangedSize) ? baseLimit - WadMath.abs(closed.exchangedSize) : 0;
        StoredPosition memory empty;
        IAmm.SwapResult memory swap;
        (r, swap) = _increase(amm, market, empty, side, rest, leverage, restLimit);
        _checkHolding(r.size, swap.maxHoldingBaseAsset);
        _updateOpenInterest(amm, rest.toInt(), swap.openInterestNotionalCap);
        r.exchangedQuote += closed.exchangedQuote;
        r.exchangedSize += closed.exchangedSize;
        r.fundingPayment += closed.fundingPayment;
        r.realizedPnl = closed.realizedPnl;
        r.unrealizedPnlAfter = 0;
        r.marginToVault += closed.marginToVault;
    }

    /// @dev Swap `notional` against the position; realise the PnL of the part closed (v1's formula).
    function _reduce(
        IAmm amm,
        Market memory market,
        StoredPosition memory old,
        Side side,
        uint256 notional,
        uint256 baseLimit,
        bool canOverFluctuationLimit,
        uint256 oldNotional,
        int256 unrealizedPnl
    ) internal returns (Result memory r) {
        bool isBuy = side == Side.BUY;
        IAmm.SwapResult memory swap =
            amm.swapInput(isBuy ? IAmm.Dir.ADD_TO_AMM : IAmm.Dir.REMOVE_FROM_AMM, notional, baseLimit, canOverFluctuationLimit);
        uint256 base = swap.amount;
        (r.quoteReserve, r.baseReserve) = (swap.quoteReserve, swap.baseReserve);
        r.exchangedSize = isBuy ? base.toInt() : -base.toInt();
        r.realizedPnl = unrealizedPnl.mulWad(base.toInt()).divWad(WadMath.abs(old.size).toInt());
        r.fundingPayment = _fundingPayment(market, old);
        int256 remain = int256(uint256(old.margin)) + r.realizedPnl - r.fundingPayment;
        if (remain < 0) r.badDebt = uint256(-remain);
        else r.margin = uint256(remain);
        r.unrealizedPnlAfter = unrealizedPnl - r.realizedPnl;
        r.exchangedQuote = notional;
        int256 remainOpenNotional = old.size > 0
            ? oldNotional.toInt() - notional.toInt() - r.unrealizedPnlAfter
            : r.unrealizedPnlAfter + oldNotional.toInt() - notional.toInt();
        if (remainOpenNotional <= 0) revert InvalidOpenNotional();
        r.openNotional = uint256(remainOpenNotional);
        r.size = int256(old.size) + r.exchangedSize;
    }

    /// @dev Swap the whole size out; the margin after PnL (at the price received) and funding returns to
    ///      the vault balance. v1 valued the position at spot before the swap: the same number.
    function _close(IAmm amm, Market memory market, StoredPosition memory old, uint256 limit)
        internal
        returns (Result memory r, IAmm.SwapResult memory swap)
    {
        bool isLong = old.size > 0;
        swap = amm.swapOutput(isLong ? IAmm.Dir.ADD_TO_AMM : IAmm.Dir.REMOVE_FROM_AMM, WadMath.abs(old.size), limit, true);
        r.exchangedQuote = swap.amount;
        (r.quoteReserve, r.baseReserve) = (swap.quoteReserve, swap.baseReserve);
        int256 unrealizedPnl = isLong
            ? swap.amount.toInt() - uint256(old.openNotional).toInt()
            : uint256(old.openNotional).toInt() - swap.amount.toInt();
        r.fundingPayment = _fundingPayment(market, old);
        int256 remain = int256(uint256(old.margin)) + unrealizedPnl - r.fundingPayment;
        if (remain < 0) r.badDebt = uint256(-remain);
        r.marginToVault = remain < 0 ? int256(0) : -remain;
        r.realizedPnl = unrealizedPnl;
        r.exchangedSize = -int256(old.size);
        // bankrupt positions' bad debt counts toward the open interest they release (v1)
        _updateOpenInterest(
            amm, -(unrealizedPnl + r.badDebt.toInt() + uint256(old.openNotional).toInt()), swap.openInterestNotionalCap
        );
    }

    /// @dev Close `ratio` of the size at leverage 1, allowed to cross the fluctuation limit once.
    function _partialClose(IAmm amm, Market memory market, StoredPosition memory old, uint256 ratio, IAmm.SwapResult memory state)
        internal
        returns (Result memory)
    {
        bool isLong = old.size > 0;
        uint256 partSize = WadMath.abs(int256(old.size).mulWad(ratio.toInt()));
        uint256 notional = PoolMath.getOutputPrice(isLong, partSize, state.quoteReserve, state.baseReserve);
        return _openReverse(amm, market, old, isLong ? Side.SELL : Side.BUY, notional, 1e18, 0, true, state);
    }

    function _checkHolding(int256 size, uint256 cap) internal pure {
        if (cap != 0 && WadMath.abs(size) > cap) revert PositionHoldingCapExceeded(WadMath.abs(size), cap);
    }

    /// @dev v1's open-interest guard, kept only while a cap is set; reductions always pass.
    function _updateOpenInterest(IAmm amm, int256 delta, uint256 cap) internal {
        if (cap == 0) return;
        int256 updated = openInterestNotional[amm].toInt() + delta;
        if (updated < 0) updated = 0;
        if (delta > 0 && uint256(updated) > cap) revert OpenInterestCapExceeded(uint256(updated), cap);
        openInterestNotional[amm] = uint256(updated);
    }

    /// @dev Emits `PositionChanged` for what a position change did (`r`), with its fee and liquidation penalty.
    function _emitPositionChanged(address trader, IAmm amm, Result memory r, uint256 fee, uint256 penalty) internal {
        emit PositionChanged(
            trader,
            address(amm),
            r.margin,
            r.exchangedQuote,
            r.exchangedSize,
            fee,
            r.size,
            r.realizedPnl,
            r.unrealizedPnlAfter,
            r.badDebt,
            penalty,
            PoolMath.spotPrice(r.quoteReserve, r.baseReserve),
            r.fundingPayment
        );
    }
}
