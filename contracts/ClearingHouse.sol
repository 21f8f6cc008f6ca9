// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAmm} from "../interfaces/IAmm.sol";
import {IClearingHouse} from "../interfaces/IClearingHouse.sol";
import {IVault} from "../interfaces/IVault.sol";
import {WadMath} from "./libraries/WadMath.sol";
import {PoolMath} from "./libraries/PoolMath.sol";
import {PositionMath} from "./libraries/PositionMath.sol";
import {KMath} from "./libraries/KMath.sol";

/// @title ClearingHouse
/// @notice Positions, margin, fees, funding, liquidation and settlement over virtual AMMs, with
///         Perpetual Protocol v1's numbers. Margin lives in the Vault: opening debits the trader's
///         free balance, closing credits it. Each market books the collateral it holds (`collateral`),
///         so that a market's losses can never be paid out of another market or a trader's free balance.
contract ClearingHouse is IClearingHouse, Ownable {
    using WadMath for uint256;
    using WadMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @dev Margin parameters and the pause flag: one slot read once per action. Ratios (<= 1e18, wad)
    ///      are stored in units of 100 wei; the setter rejects values that are not multiples of 100.
    struct StoredParams {
        uint56 initMarginRatio;
        uint56 maintenanceMarginRatio;
        uint56 liquidationFeeRatio;
        uint56 partialLiquidationRatio;
        bool paused;
    }

    /// @dev The same, unpacked to wad.
    struct Params {
        uint256 initMarginRatio;
        uint256 maintenanceMarginRatio;
        uint256 liquidationFeeRatio;
        uint256 partialLiquidationRatio;
    }

    uint256 private constant PARAM_UNIT = 100;

    /// @dev Per market, one slot read on every action.
    struct Market {
        bool listed;
        uint32 lastRestrictionBlock;
        int96 cumulativePremiumFraction;
        int96 collateral; // wad held in the Vault for this market's positions
    }

    /// @dev A position in two slots. Bounds: |size|, openNotional < 1.7e20 units; margin < 7.9e10 units.
    struct StoredPosition {
        int128 size;
        uint96 margin;
        uint32 lastBlock; // block of the last open/close/liquidation (restriction mode); survives a close
        uint128 openNotional;
        int128 lastUpdatedCumulativePremiumFraction;
    }

    /// @dev What a position change did; built in memory and applied once.
    struct Result {
        int256 size;
        uint256 margin;
        uint256 openNotional;
        uint256 exchangedQuote;
        int256 exchangedSize;
        int256 realizedPnl;
        int256 unrealizedPnlAfter;
        int256 fundingPayment;
        uint256 badDebt;
        int256 marginToVault; // > 0: from the trader's free balance; < 0: back to it
        uint256 quoteReserve; // pool after the trade
        uint256 baseReserve;
    }

    uint256 private constant TWAP_INTERVAL = 15 minutes;

    IVault public immutable vault;
    address public immutable insuranceFund;
    StoredParams private _params;
    /// @notice Receives the toll; zero means the InsuranceFund.
    address public feePool;
    /// @notice May call adjustK and repeg besides the owner (the automatic liquidity controller).
    address public liquidityController;
    mapping(IAmm amm => Market) private _markets;
    mapping(IAmm amm => uint256) public openInterestNotional;
    mapping(IAmm amm => mapping(address trader => StoredPosition)) private _positions;

    constructor(
        IVault vault_,
        address insuranceFund_,
        uint256 initMarginRatio_,
        uint256 maintenanceMarginRatio_,
        uint256 liquidationFeeRatio_,
        uint256 partialLiquidationRatio_,
        address owner_
    ) Ownable(owner_) {
        if (address(vault_) == address(0) || insuranceFund_ == address(0)) revert InvalidParameter();
        vault = vault_;
        insuranceFund = insuranceFund_;
        _setParams(initMarginRatio_, maintenanceMarginRatio_, liquidationFeeRatio_, partialLiquidationRatio_);
    }

    // ===================================================================================== trading

    /// @inheritdoc IClearingHouse
    function openPosition(IAmm amm, Side side, uint256 quoteAssetAmount, uint256 leverage, uint256 baseAssetAmountLimit)
        external
        override
    {
        Params memory p = _paramsWhenNotPaused();
        if (quoteAssetAmount == 0 || leverage == 0) revert ZeroAmount();
        if (uint256(1e18).divWad(leverage) < p.initMarginRatio) {
            revert LeverageTooHigh(leverage, uint256(1e18).divWad(p.initMarginRatio));
        }
        Market memory market = _listedMarket(amm);
        StoredPosition memory old = _positions[amm][msg.sender];
        _requireNotRestricted(market, old);

        Result memory r;
        IAmm.SwapResult memory swap;
        bool isNew = old.size == 0;
        if (isNew || (old.size > 0) == (side == Side.BUY)) {
            (r, swap) = _increase(amm, market, old, side, quoteAssetAmount.mulWad(leverage), leverage, baseAssetAmountLimit);
            _checkHolding(r.size, swap.maxHoldingBaseAsset);
            _updateOpenInterest(amm, r.exchangedQuote.toInt(), swap.openInterestNotionalCap);
        } else {
            swap = amm.getTradingState();
            r = _openReverse(amm, market, old, side, quoteAssetAmount, leverage, baseAssetAmountLimit, false, swap);
        }
        if (!isNew && r.size != 0) {
            _requireMaintenance(amm, market, r, p.maintenanceMarginRatio);
        }
        if (r.badDebt != 0) revert BadDebt(r.badDebt);
        uint256 fee = _settleTrader(amm, market, r, swap.tollRatio, swap.spreadRatio);
        _store(amm, msg.sender, r, market.cumulativePremiumFraction);
        _emitPositionChanged(msg.sender, amm, r, fee, 0);
    }

    /// @inheritdoc IClearingHouse
    function closePosition(IAmm amm, uint256 quoteAssetAmountLimit) external override {
        Params memory p = _paramsWhenNotPaused();
        Market memory market = _listedMarket(amm);
        StoredPosition memory old = _positions[amm][msg.sender];
        _requireNotRestricted(market, old);
        if (old.size == 0) revert NoPosition();

        Result memory r;
        IAmm.SwapResult memory swap;
        if (
            p.partialLiquidationRatio != 0 && p.partialLiquidationRatio < 1e18
                && amm.isOverFluctuationLimit(old.size > 0 ? IAmm.Dir.ADD_TO_AMM : IAmm.Dir.REMOVE_FROM_AMM, WadMath.abs(old.size))
        ) {
            swap = amm.getTradingState();
            r = _partialClose(amm, market, old, p.partialLiquidationRatio, swap);
        } else {
            (r, swap) = _close(amm, market, old, quoteAssetAmountLimit);
        }
        if (r.badDebt != 0) revert BadDebt(r.badDebt);
        uint256 fee = _settleTrader(amm, market, r, swap.tollRatio, swap.spreadRatio);
        _store(amm, msg.sender, r, market.cumulativePremiumFraction);
        _emitPositionChanged(msg.sender, amm, r, fee, 0);
    }

    /// @inheritdoc IClearingHouse
    function addMargin(IAmm amm, uint256 amount) external override {
        _paramsWhenNotPaused();
        if (amount == 0) revert ZeroAmount();
        Market memory market = _listedMarket(amm);
        StoredPosition storage pos = _positions[amm][msg.sender];
        if (pos.size == 0) revert NoPosition();
        pos.margin = (uint256(pos.margin) + amount).toUint96();
        market.collateral = (int256(market.collateral) + amount.toInt()).toInt96();
        _markets[amm] = market;
        vault.settle(msg.sender, amount, 0, address(0), 0);
        emit MarginChanged(msg.sender, address(amm), amount.toInt(), 0);
    }

    /// @inheritdoc IClearingHouse
    function removeMargin(IAmm amm, uint256 amount) external override {
        _paramsWhenNotPaused();
        if (amount == 0) revert ZeroAmount();
        Market memory market = _listedMarket(amm);
        StoredPosition memory pos = _positions[amm][msg.sender];
        if (pos.size == 0) revert NoPosition();
        int256 fundingPayment = _fundingPayment(market, pos);
        int256 remain = int256(uint256(pos.margin)) - amount.toInt() - fundingPayment;
        if (remain < 0) revert BadDebt(uint256(-remain));
        pos.margin = uint256(remain).toUint96();
        pos.lastUpdatedCumulativePremiumFraction = market.cumulativePremiumFraction;
        int256 free = _freeCollateral(amm, pos, uint256(remain));
        if (free < 0) revert NotEnoughFreeCollateral(free);
        _positions[amm][msg.sender] = pos;
        market.collateral = (int256(market.collateral) - amount.toInt()).toInt96();
        _markets[amm] = market;
        vault.settle(msg.sender, 0, amount, address(0), 0);
        emit MarginChanged(msg.sender, address(amm), -amount.toInt(), fundingPayment);
    }

    /// @inheritdoc IClearingHouse
    function liquidate(IAmm amm, address trader) external override {
        Params memory p = _unpack(_params);
        Market memory market = _listedMarket(amm);
        StoredPosition memory old = _positions[amm][trader];
        if (old.size == 0) revert NoPosition();
        {
            int256 ratio = _marginRatioWithOracle(amm, market, old);
            if (ratio >= int256(uint256(p.maintenanceMarginRatio))) {
                revert MarginRatioHealthy(ratio, p.maintenanceMarginRatio);
            }
        }
        IAmm.SwapResult memory state = amm.getTradingState();
        Result memory r;
        uint256 penalty;
        uint256 toLiquidator;
        uint256 liquidationBadDebt;
        int256 spotRatio = _spotMarginRatio(market, old, state.quoteReserve, state.baseReserve);
        if (
            spotRatio > int256(uint256(p.liquidationFeeRatio)) && p.partialLiquidationRatio != 0
                && p.partialLiquidationRatio < 1e18
        ) {
            r = _partialClose(amm, market, old, p.partialLiquidationRatio, state);
            penalty = r.exchangedQuote.mulWad(p.liquidationFeeRatio);
            toLiquidator = penalty / 2;
            r.margin -= penalty;
            // the penalty leaves the market: half to the liquidator, half to the InsuranceFund
            market.collateral = (int256(market.collateral) - penalty.toInt()).toInt96();
            vault.credit(insuranceFund, penalty - toLiquidator);
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
            if (remain != 0) vault.credit(insuranceFund, remain);
            if (fromInsurance != 0) _drawInsurance(amm, market, fromInsurance);
            r.marginToVault = 0;
        }
        vault.credit(msg.sender, toLiquidator);
        market.lastRestrictionBlock = uint32(block.number);
        _markets[amm] = market;
        _storeFor(amm, trader, r, market.cumulativePremiumFraction);
        emit RestrictionModeEntered(address(amm), block.number);
        emit PositionLiquidated(
            trader, address(amm), r.exchangedQuote, WadMath.abs(r.exchangedSize), toLiquidator, msg.sender, liquidationBadDebt
        );
        _emitPositionChanged(trader, amm, r, 0, penalty);
    }

    /// @inheritdoc IClearingHouse
    function payFunding(IAmm amm) external override {
        Market memory market = _listedMarket(amm);
        (int256 premiumFraction, int256 totalSize) = amm.settleFunding();
        market.cumulativePremiumFraction = (int256(market.cumulativePremiumFraction) + premiumFraction).toInt96();
        // the pool's side of the imbalance: positive = the InsuranceFund earns it
        int256 poolPnl = premiumFraction.mulWad(totalSize);
        market.collateral = (int256(market.collateral) - poolPnl).toInt96();
        _markets[amm] = market;
        if (poolPnl > 0) vault.credit(insuranceFund, uint256(poolPnl));
        else if (poolPnl < 0) _drawInsurance(amm, market, uint256(-poolPnl));
        emit FundingPaid(address(amm), premiumFraction, market.cumulativePremiumFraction, poolPnl);
    }

    /// @inheritdoc IClearingHouse
    function settlePosition(IAmm amm) external override {
        Market memory market = _listedMarket(amm);
        if (!amm.isShutdown()) revert MarketNotShutdown();
        StoredPosition memory pos = _positions[amm][msg.sender];
        if (pos.size == 0) revert NoPosition();
        uint256 price = amm.getSettlementPrice();
        int256 value;
        if (price == 0) {
            value = int256(uint256(pos.margin));
        } else {
            uint256 openPrice = uint256(pos.openNotional).divWad(WadMath.abs(pos.size));
            value = int256(pos.size).mulWad(price.toInt() - openPrice.toInt()) + int256(uint256(pos.margin));
        }
        // fail safe: a market pays out at most the collateral it still holds
        uint256 paid = value > 0 ? uint256(value) : 0;
        uint256 held = market.collateral > 0 ? uint256(int256(market.collateral)) : 0;
        if (paid > held) paid = held;
        market.collateral = (int256(market.collateral) - paid.toInt()).toInt96();
        _markets[amm] = market;
        delete _positions[amm][msg.sender];
        if (paid != 0) vault.credit(msg.sender, paid);
        emit PositionSettled(address(amm), msg.sender, paid);
    }

    // ======================================================================================= owner

    /// @notice Scales both reserves of `amm` by `factor` (wad; 1.2e18 deepens the pool by 20 %) at
    ///         an unchanged price. The change in what closing the traders' net position would exchange is
    ///         booked against the InsuranceFund; reverts with `InsuranceFundInsufficient` when it cannot pay.
    function adjustK(IAmm amm, uint256 factor) external returns (int256 cost) {
        _onlyOwnerOrController();
        if (factor == 0) revert InvalidParameter();
        _listedMarket(amm);
        (uint256 q0, uint256 b0) = amm.getReserve();
        (uint256 q1, uint256 b1) = KMath.scaled(q0, b0, factor);
        cost = _moveCurve(amm, q0, b0, q1, b1);
        emit KAdjusted(address(amm), q0, b0, q1, b1, cost);
    }

    /// @notice Moves the mark of `amm` to `newPrice` (wad) at a constant base reserve, with the same
    ///         cost accounting and refusal rule as `adjustK`.
    function repeg(IAmm amm, uint256 newPrice) external returns (int256 cost) {
        _onlyOwnerOrController();
        if (newPrice == 0) revert InvalidParameter();
        _listedMarket(amm);
        (uint256 q0, uint256 b0) = amm.getReserve();
        (uint256 q1, uint256 b1) = KMath.repegged(b0, newPrice);
        cost = _moveCurve(amm, q0, b0, q1, b1);
        emit Repegged(address(amm), PoolMath.spotPrice(q0, b0), PoolMath.spotPrice(q1, b1), cost);
    }

    /// @notice Sets the contract allowed to call adjustK and repeg besides the owner (zero: none).
    function setLiquidityController(address controller) external onlyOwner {
        liquidityController = controller;
        emit LiquidityControllerChanged(controller);
    }

    /// @notice Lists a market (its Amm must name this ClearingHouse).
    function addAmm(IAmm amm) external onlyOwner {
        if (_markets[amm].listed) revert MarketAlreadyListed(address(amm));
        if (amm.clearingHouse() != address(this)) revert InvalidParameter();
        _markets[amm].listed = true;
        emit MarketListed(address(amm));
    }

    /// @notice Sets the margin parameters (wad, each <= 1e18; maintenance <= initial).
    function setParams(uint256 initMarginRatio_, uint256 maintenanceMarginRatio_, uint256 liquidationFeeRatio_, uint256 partialLiquidationRatio_)
        external
        onlyOwner
    {
        _setParams(initMarginRatio_, maintenanceMarginRatio_, liquidationFeeRatio_, partialLiquidationRatio_);
    }

    /// @notice Sets the toll receiver; zero sends the toll to the InsuranceFund.
    function setFeePool(address feePool_) external onlyOwner {
        feePool = feePool_;
        emit FeePoolChanged(feePool_);
    }

    /// @notice Pauses trading (withdrawals, liquidations and funding stay open).
    function pause() external onlyOwner {
        _params.paused = true;
        emit Paused(msg.sender);
    }

    function unpause() external onlyOwner {
        _params.paused = false;
        emit Unpaused(msg.sender);
    }

    /// @notice Whether trading is paused.
    function paused() external view returns (bool) {
        return _params.paused;
    }

    // ======================================================================================= views

    function initMarginRatio() external view returns (uint256) {
        return uint256(_params.initMarginRatio) * PARAM_UNIT;
    }

    function maintenanceMarginRatio() external view returns (uint256) {
        return uint256(_params.maintenanceMarginRatio) * PARAM_UNIT;
    }

    function liquidationFeeRatio() external view returns (uint256) {
        return uint256(_params.liquidationFeeRatio) * PARAM_UNIT;
    }

    function partialLiquidationRatio() external view returns (uint256) {
        return uint256(_params.partialLiquidationRatio) * PARAM_UNIT;
    }

    /// @notice The market's booked collateral (wad) and whether it is listed.
    function getMarket(IAmm amm) external view returns (bool listed, int256 collateral, uint256 lastRestrictionBlock) {
        Market memory m = _markets[amm];
        return (m.listed, m.collateral, m.lastRestrictionBlock);
    }

    /// @inheritdoc IClearingHouse
    function getPosition(IAmm amm, address trader) external view override returns (Position memory) {
        StoredPosition memory s = _positions[amm][trader];
        return Position(s.size, s.margin, s.openNotional, s.lastUpdatedCumulativePremiumFraction);
    }

    /// @inheritdoc IClearingHouse
    function getPositionNotionalAndUnrealizedPnl(IAmm amm, address trader, PnlCalcOption option)
        public
        view
        override
        returns (uint256 positionNotional, int256 unrealizedPnl)
    {
        StoredPosition memory pos = _positions[amm][trader];
        if (pos.size == 0) return (0, 0);
        if (option == PnlCalcOption.SPOT_PRICE) {
            (uint256 q, uint256 b) = amm.getReserve();
            return PositionMath.spotNotionalAndPnl(pos.size, pos.openNotional, q, b);
        }
        if (option == PnlCalcOption.TWAP) {
            (uint256 q, uint256 b) = amm.getReserve();
            return PositionMath.twapNotionalAndPnl(pos.size, pos.openNotional, q, b, amm.getTwapPrice(TWAP_INTERVAL));
        }
        return PositionMath.notionalAndPnlAtPrice(pos.size, pos.openNotional, amm.getUnderlyingPrice());
    }

    /// @inheritdoc IClearingHouse
    function getMarginRatio(IAmm amm, address trader) external view override returns (int256) {
        StoredPosition memory pos = _positions[amm][trader];
        if (pos.size == 0) revert NoPosition();
        return _marginRatioWithOracle(amm, _markets[amm], pos);
    }

    /// @inheritdoc IClearingHouse
    function getFreeCollateral(IAmm amm, address trader) external view override returns (int256) {
        StoredPosition memory pos = _positions[amm][trader];
        if (pos.size == 0) return 0;
        int256 remain = int256(uint256(pos.margin)) - _fundingPayment(_markets[amm], pos);
        return _freeCollateralSigned(amm, pos, remain);
    }

    /// @inheritdoc IClearingHouse
    function getLatestCumulativePremiumFraction(IAmm amm) external view override returns (int256) {
        return _markets[amm].cumulativePremiumFraction;
    }

    // ================================================================================ position logic

    /// @dev New position or same side: swap `notional` in, margin += notional / leverage.
    function _increase(
        IAmm amm,
        Market memory market,
        StoredPosition memory old,
        Side side,
        uint256 notional,
        uint256 leverage,
        uint256 baseLimit
    ) private returns (Result memory r, IAmm.SwapResult memory swap) {
        bool isLong = side == Side.BUY;
        swap = amm.swapInput(isLong ? IAmm.Dir.ADD_TO_AMM : IAmm.Dir.REMOVE_FROM_AMM, notional, baseLimit, false);
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
        (, r.unrealizedPnlAfter) = PositionMath.spotNotionalAndPnl(r.size, r.openNotional, r.quoteReserve, r.baseReserve);
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
    ) private returns (Result memory r) {
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
    ) private returns (Result memory r) {
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
        private
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
        private
        returns (Result memory)
    {
        bool isLong = old.size > 0;
        uint256 partSize = WadMath.abs(int256(old.size).mulWad(ratio.toInt()));
        uint256 notional = PoolMath.getOutputPrice(isLong, partSize, state.quoteReserve, state.baseReserve);
        return _openReverse(amm, market, old, isLong ? Side.SELL : Side.BUY, notional, 1e18, 0, true, state);
    }

    // =================================================================================== margin math

    function _fundingPayment(Market memory market, StoredPosition memory pos) private pure returns (int256) {
        if (pos.size == 0) return 0;
        return (int256(market.cumulativePremiumFraction) - pos.lastUpdatedCumulativePremiumFraction).mulWad(pos.size);
    }

    /// @dev Spot-price margin ratio of a stored position.
    function _spotMarginRatio(Market memory market, StoredPosition memory pos, uint256 q, uint256 b)
        private
        pure
        returns (int256)
    {
        (uint256 notional, int256 pnl) = PositionMath.spotNotionalAndPnl(pos.size, pos.openNotional, q, b);
        return _ratio(market, pos, notional, pnl);
    }

    function _ratio(Market memory market, StoredPosition memory pos, uint256 notional, int256 pnl)
        private
        pure
        returns (int256)
    {
        int256 value = int256(uint256(pos.margin)) + pnl - _fundingPayment(market, pos);
        return value.divWad(notional.toInt());
    }

    /// @dev v1's MAX_PNL margin ratio: the PnL of spot or TWAP, whichever is higher (TWAP on a tie).
    function _marginRatio(IAmm amm, Market memory market, StoredPosition memory pos, uint256 q, uint256 b)
        private
        view
        returns (int256)
    {
        (uint256 spotNotional, int256 spotPnl) = PositionMath.spotNotionalAndPnl(pos.size, pos.openNotional, q, b);
        (uint256 twapNotional, int256 twapPnl) =
            PositionMath.twapNotionalAndPnl(pos.size, pos.openNotional, q, b, amm.getTwapPrice(TWAP_INTERVAL));
        return spotPnl > twapPnl ? _ratio(market, pos, spotNotional, spotPnl) : _ratio(market, pos, twapNotional, twapPnl);
    }

    /// @dev The liquidation margin ratio: MAX_PNL, and the oracle-based ratio if higher when the spot
    ///      is >= 10 % from the oracle.
    function _marginRatioWithOracle(IAmm amm, Market memory market, StoredPosition memory pos)
        private
        view
        returns (int256 ratio)
    {
        (uint256 q, uint256 b) = amm.getReserve();
        ratio = _marginRatio(amm, market, pos, q, b);
        if (amm.isOverSpreadLimit()) {
            (uint256 notional, int256 pnl) =
                PositionMath.notionalAndPnlAtPrice(pos.size, pos.openNotional, amm.getUnderlyingPrice());
            int256 oracleRatio = _ratio(market, pos, notional, pnl);
            if (oracleRatio > ratio) ratio = oracleRatio;
        }
    }

    /// @dev After a trade: the new position must meet the maintenance ratio. The TWAP is only read when
    ///      the spot ratio fails (MAX_PNL passes if either passes).
    function _requireMaintenance(IAmm amm, Market memory market, Result memory r, uint256 mmr) private view {
        StoredPosition memory pos;
        pos.size = r.size.toInt128();
        pos.margin = r.margin.toUint96();
        pos.openNotional = r.openNotional.toUint128();
        pos.lastUpdatedCumulativePremiumFraction = market.cumulativePremiumFraction;
        int256 ratio = _spotMarginRatio(market, pos, r.quoteReserve, r.baseReserve);
        if (ratio >= int256(mmr)) return;
        int256 withTwap = _marginRatio(amm, market, pos, r.quoteReserve, r.baseReserve);
        if (withTwap < int256(mmr)) revert MarginRatioTooLow(withTwap, mmr);
    }

    function _freeCollateral(IAmm amm, StoredPosition memory pos, uint256 marginWithFunding)
        private
        view
        returns (int256)
    {
        return _freeCollateralSigned(amm, pos, marginWithFunding.toInt());
    }

    /// @dev min(margin, margin + PnL) − initMarginRatio × (openNotional if long, positionNotional if short),
    ///      the PnL being the less favourable of spot and TWAP (MIN_PNL; spot on a tie).
    function _freeCollateralSigned(IAmm amm, StoredPosition memory pos, int256 marginWithFunding)
        private
        view
        returns (int256)
    {
        (uint256 q, uint256 b) = amm.getReserve();
        (uint256 spotNotional, int256 spotPnl) = PositionMath.spotNotionalAndPnl(pos.size, pos.openNotional, q, b);
        (uint256 twapNotional, int256 twapPnl) =
            PositionMath.twapNotionalAndPnl(pos.size, pos.openNotional, q, b, amm.getTwapPrice(TWAP_INTERVAL));
        (uint256 notional, int256 pnl) = spotPnl > twapPnl ? (twapNotional, twapPnl) : (spotNotional, spotPnl);
        int256 collateral = pnl > 0 ? marginWithFunding : marginWithFunding + pnl;
        uint256 base = pos.size > 0 ? uint256(pos.openNotional) : notional;
        return collateral - base.mulWad(uint256(_params.initMarginRatio) * PARAM_UNIT).toInt();
    }

    // ============================================================================ bookkeeping

    /// @dev Books the cost of a curve change against the InsuranceFund (all or nothing), then moves it.
    function _moveCurve(IAmm amm, uint256 q0, uint256 b0, uint256 q1, uint256 b1) private returns (int256 cost) {
        cost = KMath.curveChangeCost(amm.totalPositionSize(), q0, b0, q1, b1);
        Market memory market = _markets[amm];
        if (cost > 0) {
            uint256 available = vault.balanceOfWad(insuranceFund);
            if (available < uint256(cost)) revert InsuranceFundInsufficient(uint256(cost), available);
            vault.debitUpTo(insuranceFund, uint256(cost));
        } else if (cost < 0) {
            vault.credit(insuranceFund, uint256(-cost));
        }
        market.collateral = (int256(market.collateral) + cost).toInt96();
        _markets[amm] = market;
        amm.resetReserves(q1, b1);
    }

    function _onlyOwnerOrController() private view {
        if (msg.sender != owner() && (msg.sender != liquidityController || msg.sender == address(0))) {
            revert OwnableUnauthorizedAccount(msg.sender);
        }
    }

    /// @dev Moves the trader's margin and fees through the Vault and books the market's collateral.
    function _settleTrader(IAmm amm, Market memory market, Result memory r, uint256 tollRatio, uint256 spreadRatio)
        private
        returns (uint256 fee)
    {
        uint256 toll = r.exchangedQuote.mulWad(tollRatio);
        uint256 spread = r.exchangedQuote.mulWad(spreadRatio);
        fee = toll + spread;
        uint256 debit = fee;
        uint256 creditBack;
        if (r.marginToVault > 0) debit += uint256(r.marginToVault);
        else creditBack = uint256(-r.marginToVault);
        market.collateral = (int256(market.collateral) + r.marginToVault).toInt96();
        _markets[amm] = market;
        address pool = toll == 0 ? address(0) : feePool;
        if (pool == address(0)) {
            vault.settle(msg.sender, debit, creditBack, insuranceFund, fee);
        } else {
            vault.settle(msg.sender, debit, creditBack, insuranceFund, spread);
            vault.credit(pool, toll);
        }
    }

    /// @dev The InsuranceFund pays `amount` into the market; what it cannot pay halts the market.
    function _drawInsurance(IAmm amm, Market memory, uint256 amount) private {
        uint256 paid = vault.debitUpTo(insuranceFund, amount);
        if (paid < amount) {
            uint256 shortfall = amount - paid;
            Market storage m = _markets[amm];
            m.collateral = (int256(m.collateral) - shortfall.toInt()).toInt96();
            if (!amm.isShutdown()) amm.shutdown();
            emit MarketHalted(address(amm), shortfall);
        }
    }

    function _store(IAmm amm, address trader, Result memory r, int96 cumulative) private {
        _storeFor(amm, trader, r, cumulative);
    }

    function _storeFor(IAmm amm, address trader, Result memory r, int96 cumulative) private {
        StoredPosition storage s = _positions[amm][trader];
        if (r.size == 0) {
            s.size = 0;
            s.margin = 0;
            s.lastBlock = uint32(block.number);
            s.openNotional = 0;
            s.lastUpdatedCumulativePremiumFraction = 0;
        } else {
            _positions[amm][trader] = StoredPosition({
                size: r.size.toInt128(),
                margin: r.margin.toUint96(),
                lastBlock: uint32(block.number),
                openNotional: r.openNotional.toUint128(),
                lastUpdatedCumulativePremiumFraction: cumulative
            });
        }
    }

    function _emitPositionChanged(address trader, IAmm amm, Result memory r, uint256 fee, uint256 penalty) private {
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

    function _paramsWhenNotPaused() private view returns (Params memory) {
        StoredParams memory s = _params;
        if (s.paused) revert EnforcedPause();
        return _unpack(s);
    }

    function _unpack(StoredParams memory s) private pure returns (Params memory) {
        return Params(
            uint256(s.initMarginRatio) * PARAM_UNIT,
            uint256(s.maintenanceMarginRatio) * PARAM_UNIT,
            uint256(s.liquidationFeeRatio) * PARAM_UNIT,
            uint256(s.partialLiquidationRatio) * PARAM_UNIT
        );
    }

    function _listedMarket(IAmm amm) private view returns (Market memory market) {
        market = _markets[amm];
        if (!market.listed) revert UnknownMarket(address(amm));
    }

    function _requireNotRestricted(Market memory market, StoredPosition memory pos) private view {
        if (market.lastRestrictionBlock == uint32(block.number) && pos.lastBlock == uint32(block.number)) {
            revert RestrictionMode();
        }
    }

    function _checkHolding(int256 size, uint256 cap) private pure {
        if (cap != 0 && WadMath.abs(size) > cap) revert PositionHoldingCapExceeded(WadMath.abs(size), cap);
    }

    /// @dev v1's open-interest guard, kept only while a cap is set; reductions always pass.
    function _updateOpenInterest(IAmm amm, int256 delta, uint256 cap) private {
        if (cap == 0) return;
        int256 updated = openInterestNotional[amm].toInt() + delta;
        if (updated < 0) updated = 0;
        if (delta > 0 && uint256(updated) > cap) revert OpenInterestCapExceeded(uint256(updated), cap);
        openInterestNotional[amm] = uint256(updated);
    }

    function _setParams(uint256 imr, uint256 mmr, uint256 lfr, uint256 plr) private {
        if (imr == 0 || imr > 1e18 || mmr > imr || lfr > 1e18 || plr > 1e18) revert InvalidParameter();
        if (imr % PARAM_UNIT != 0 || mmr % PARAM_UNIT != 0 || lfr % PARAM_UNIT != 0 || plr % PARAM_UNIT != 0) {
            revert InvalidParameter();
        }
        _params = StoredParams(
            uint56(imr / PARAM_UNIT),
            uint56(mmr / PARAM_UNIT),
            uint56(lfr / PARAM_UNIT),
            uint56(plr / PARAM_UNIT),
            _params.paused
        );
        emit ParametersChanged(imr, mmr, lfr, plr);
    }
}
