// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAmm} from "../../interfaces/IAmm.sol";
import {IVault} from "../../interfaces/IVault.sol";
import {IInsuranceFund} from "../../interfaces/IInsuranceFund.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {PoolMath} from "../libraries/PoolMath.sol";
import {KMath} from "../libraries/KMath.sol";
import {MarginRatio} from "../libraries/MarginRatio.sol";
import {PositionMath} from "../libraries/PositionMath.sol";
import {ClearingHouseBase} from "./ClearingHouseBase.sol";
import {StoredPosition} from "../types/PositionSlots.sol";

/// @title ClearingHouse risk module: liquidation, settlement and curve changes (funding runs in the ClearingHouse itself)
/// @notice Runs only by DELEGATECALL from the ClearingHouse, on the ClearingHouse's storage and with its
///         address in events and vault calls; deployed with the same Vault and InsuranceFund (immutables).
///         Calling it directly changes nothing but its own unused storage.
contract ClearingHouseRiskModule is ClearingHouseBase {
    using WadMath for uint256;
    using WadMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;

    constructor(IVault vault_, address insuranceFund_, address owner_)
        ClearingHouseBase(vault_, insuranceFund_, 1e18, 0, 0, 0, owner_)
    {}

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

    // ================================================================================== settlement

    /// @notice See IClearingHouse.
    function settlePosition(IAmm amm) external {
        _settle(amm, msg.sender, true);
    }

    /// @notice See IClearingHouse.
    function claimSettlement(IAmm amm, address trader) external {
        _settle(amm, trader, false);
    }

    /// @dev Settlement is a claim book, so that no payout depends on the order of the claims: in the window each
    ///      position becomes a claim (its value, funding included); after it, the registered claims share what
    ///      the market holds (plus what the fund can pay in) pro rata, rounded down, the last one sweeping the
    ///      dust to the fund. `byTrader`: the trader's own call, which alone may settle a late position.
    function _settle(IAmm amm, address trader, bool byTrader) internal {
        Market memory market = _listedMarket(amm);
        if (!amm.isShutdown()) revert MarketNotShutdown();
        uint256 windowEnd = amm.settlementWindowEnd();
        uint256 claim = _settlementClaims[amm][trader];
        SettlementBook storage book = _settlements[amm];
        if (block.timestamp < windowEnd) {
            if (claim != 0) revert SettlementWindowOpen(windowEnd);
            uint256 value = _takePositionValue(amm, market, trader);
            if (value == 0) {
                emit PositionSettled(address(amm), trader, 0);
                return;
            }
            _settlementClaims[amm][trader] = value;
            book.totalClaims = (uint256(book.totalClaims) + value).toUint128();
            book.unpaidClaims += 1;
            emit SettlementClaimed(address(amm), trader, value, windowEnd);
            return;
        }
        if (!book.finalized) _finalizeSettlement(amm, market, book);
        uint256 paid;
        if (claim != 0) {
            paid = _payClaim(amm, market, book, trader, claim);
        } else {
            if (!byTrader) revert NothingToSettle();
            paid = _payLateClaim(market, book, _takePositionValue(amm, market, trader));
        }
        _writeMarket(amm, market);
        if (paid != 0) vault.credit(trader, paid);
        emit PositionSettled(address(amm), trader, paid);
    }

    /// @dev Deletes `trader`'s position and returns its value at the settlement price: margin + PnL − funding
    ///      owed, floored at 0 (v1's formula and rounding for the PnL; margin − funding at a price of 0).
    function _takePositionValue(IAmm amm, Market memory market, address trader) internal returns (uint256) {
        StoredPosition memory pos = _positions[amm][trader].load();
        if (pos.size == 0) revert NoPosition();
        delete _positions[amm][trader];
        uint256 price = amm.getSettlementPrice();
        int256 value = int256(uint256(pos.margin)) - _fundingPayment(market, pos);
        if (price != 0) {
            uint256 openPrice = uint256(pos.openNotional).divWad(WadMath.abs(pos.size));
            value += int256(pos.size).mulWad(price.toInt() - openPrice.toInt());
        }
        return value > 0 ? uint256(value) : 0;
    }

    /// @dev The window has closed: the registered claims' share is fixed. When the market's collateral is short of
    ///      them, the InsuranceFund pays in what it can of the difference (the bad debt the settlement realises).
    ///      The market's part of the unpaid bad debt is released: paid now, or borne by the claims.
    function _finalizeSettlement(IAmm amm, Market memory market, SettlementBook storage book) internal {
        uint256 total = book.totalClaims;
        uint256 held = int256(market.collateral).toUint256();
        uint256 fromFund;
        if (total > held) {
            fromFund = vault.debitUpTo(insuranceFund, total - held);
            held += fromFund;
            market.collateral = held.toInt().toInt96();
        }
        uint256 available = held < total ? held : total;
        book.available = uint128(available); // <= totalClaims, a uint128
        book.finalized = true;
        uint256 shortfall = _haltShortfall[amm];
        if (shortfall != 0) {
            _haltShortfall[amm] = 0;
            _unpaidBadDebt -= shortfall;
        }
        emit SettlementFinalized(address(amm), total, available, fromFund);
    }

    /// @dev Pays a registered claim its share, rounded down; the last one sends the rounding dust to the fund, so
    ///      that the payouts plus the dust are exactly `available`.
    function _payClaim(IAmm amm, Market memory market, SettlementBook storage book, address trader, uint256 claim)
        internal
        returns (uint256 paid)
    {
        uint256 total = book.totalClaims;
        uint256 available = book.available;
        paid = available == total ? claim : claim * available / total;
        _settlementClaims[amm][trader] = 0;
        uint256 paidSoFar = uint256(book.paid) + paid;
        book.paid = uint128(paidSoFar); // <= available, a uint128
        uint64 unpaid = book.unpaidClaims - 1;
        book.unpaidClaims = unpaid;
        uint256 out = paid;
        if (unpaid == 0 && available > paidSoFar) {
            uint256 dust = available - paidSoFar;
            out += dust;
            _vaultSettle(address(0), 0, 0, dust);
            emit SettlementDustSwept(address(amm), dust);
        }
        market.collateral = (int256(market.collateral) - out.toInt()).toInt96();
    }

    /// @dev A position first settled after the window: at most the registered claims' share of its value, out of
    ///      what they leave in the market, and beyond that what the fund can pay in (never out of their share).
    function _payLateClaim(Market memory market, SettlementBook storage book, uint256 value)
        internal
        returns (uint256 due)
    {
        uint256 total = book.totalClaims;
        uint256 available = book.available;
        due = available == total ? value : value * available / total;
        uint256 reserved = book.unpaidClaims != 0 ? available - book.paid : 0;
        uint256 free = int256(market.collateral).toUint256() - reserved;
        if (due > free) {
            uint256 fromFund = vault.debitUpTo(insuranceFund, due - free);
            due = free + fromFund;
            market.collateral = (int256(market.collateral) + fromFund.toInt()).toInt96();
        }
        market.collateral = (int256(market.collateral) - due.toInt()).toInt96();
    }

    // ============================================================================== curve changes

    /// @notice Scales both reserves of `amm` by `factor` (wad; 1.2e18 deepens the pool by 20 %) at
    ///         an unchanged price. The change in what closing the traders' net position would exchange is
    ///         booked against the InsuranceFund; reverts with `InsuranceFundInsufficient` when it cannot pay.
    ///         No bound on the cost besides the fund's surplus: see the overload with `maxCost`.
    function adjustK(IAmm amm, uint256 factor) external returns (int256) {
        return _adjustK(amm, factor, type(int256).max);
    }

    /// @notice `adjustK`, refused (`CurveChangeCostExceeded`) when its cost would exceed `maxCost` (wad, signed:
    ///         a negative bound demands a gain for the fund of at least `-maxCost`).
    function adjustK(IAmm amm, uint256 factor, int256 maxCost) external returns (int256) {
        return _adjustK(amm, factor, maxCost);
    }

    /// @notice Moves the mark of `amm` to `newPrice` (wad) at a constant base reserve, with the same
    ///         cost accounting and refusal rules as `adjustK`.
    function repeg(IAmm amm, uint256 newPrice) external returns (int256) {
        return _repeg(amm, newPrice, type(int256).max);
    }

    /// @notice `repeg`, refused (`CurveChangeCostExceeded`) when its cost would exceed `maxCost`.
    function repeg(IAmm amm, uint256 newPrice, int256 maxCost) external returns (int256) {
        return _repeg(amm, newPrice, maxCost);
    }

    function _adjustK(IAmm amm, uint256 factor, int256 maxCost) internal returns (int256 cost) {
        _onlyOwnerOrController();
        if (factor == 0) revert ZeroKFactor();
        _listedMarket(amm);
        (uint256 q0, uint256 b0) = amm.getReserve();
        (uint256 q1, uint256 b1) = KMath.scaled(q0, b0, factor);
        cost = _moveCurve(amm, q0, b0, q1, b1, maxCost);
        emit KAdjusted(address(amm), q0, b0, q1, b1, cost);
    }

    function _repeg(IAmm amm, uint256 newPrice, int256 maxCost) internal returns (int256 cost) {
        _onlyOwnerOrController();
        if (newPrice == 0) revert ZeroPrice();
        _listedMarket(amm);
        (uint256 q0, uint256 b0) = amm.getReserve();
        (uint256 q1, uint256 b1) = KMath.repegged(b0, newPrice);
        cost = _moveCurve(amm, q0, b0, q1, b1, maxCost);
        emit Repegged(address(amm), PoolMath.spotPrice(q0, b0), PoolMath.spotPrice(q1, b1), cost);
    }

    /// @dev Moves the curve (the Amm refuses it after a trade in this block, or beyond the mark bound), bounds
    ///      the block's whole move, then books the cost against the InsuranceFund (all or nothing).
    function _moveCurve(IAmm amm, uint256 q0, uint256 b0, uint256 q1, uint256 b1, int256 maxCost)
        internal
        returns (int256 cost)
    {
        cost = KMath.curveChangeCost(amm.totalPositionSize(), q0, b0, q1, b1);
        (uint256 qStart, uint256 bStart) = amm.resetReserves(q1, b1);
        _checkCurveMove(qStart, bStart, q1, b1);
        if (cost > maxCost) revert CurveChangeCostExceeded(cost, maxCost);
        Market memory market = _loadMarket(amm, false); // only the collateral moves
        if (cost > 0) {
            // the fund's reserve floor is not for curve changes, as it is not for the owner's withdrawals
            uint256 available = IInsuranceFund(insuranceFund).surplus();
            if (available < uint256(cost)) revert InsuranceFundInsufficient(uint256(cost), available);
            vault.debitUpTo(insuranceFund, uint256(cost));
        } else if (cost < 0) {
            vault.credit(insuranceFund, uint256(-cost));
        }
        market.collateral = (int256(market.collateral) + cost).toInt96();
        // a gain for the fund larger than what the market holds comes back as a prepayment
        if (market.collateral < 0) _requirePrepaid(amm, market);
        _writeMarket(amm, market);
    }

    /// @dev The block's curve changes together, from the pool at the block's start (qs, bs) to (q1, b1), may move
    ///      the price by |Δp| / p and shrink the base reserve by |Δb| / b (deepening helps every position) by at
    ///      most `maintenanceMarginRatio × CURVE_MOVE_SHARE` in sum: a position that met the maintenance ratio
    ///      keeps at least about half of it, so the change alone cannot make it bankrupt (docs/security.md).
    function _checkCurveMove(uint256 qs, uint256 bs, uint256 q1, uint256 b1) internal view {
        uint256 limit = _maxCurveMove();
        uint256 ps = PoolMath.spotPrice(qs, bs);
        uint256 p1 = PoolMath.spotPrice(q1, b1);
        uint256 move = ps == 0 ? type(uint128).max : (p1 > ps ? p1 - ps : ps - p1).divWad(ps);
        if (b1 < bs) move += (bs - b1).divWad(bs);
        if (move > limit) revert CurveMoveTooLarge(move, limit);
    }

    function _onlyOwnerOrController() internal view {
        if (msg.sender != owner() && (msg.sender != liquidityController || msg.sender == address(0))) {
            revert OwnableUnauthorizedAccount(msg.sender);
        }
    }

}
