// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAmm} from "../../interfaces/IAmm.sol";
import {IInsuranceFund} from "../../interfaces/IInsuranceFund.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {PoolMath} from "../libraries/PoolMath.sol";
import {KMath} from "../libraries/KMath.sol";
import {ClearingHouseCollateral} from "./ClearingHouseCollateral.sol";

/// @title Curve changes
/// @notice `adjustK` and `repeg`: the owner's or the liquidity controller's changes of a pool's curve, their cost
///         booked against the InsuranceFund and the block's whole move bounded. Runs in the
///         `ClearingHouseRiskModule`, by DELEGATECALL from the ClearingHouse.
abstract contract CurveChanges is ClearingHouseCollateral {
    using WadMath for uint256;
    using WadMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;

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
