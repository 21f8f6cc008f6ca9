// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IAmm} from "../interfaces/IAmm.sol";
import {IClearingHouse} from "../interfaces/IClearingHouse.sol";
import {IVault} from "../interfaces/IVault.sol";
import {WadMath} from "./libraries/WadMath.sol";
import {MarginMath} from "./libraries/MarginMath.sol";
import {MarginRatio} from "./libraries/MarginRatio.sol";
import {ClearingHouseStorage} from "./clearinghouse/ClearingHouseStorage.sol";
import {ClearingHouseFunding} from "./clearinghouse/ClearingHouseFunding.sol";
import {PositionTransitions} from "./clearinghouse/PositionTransitions.sol";
import {MarketState} from "./types/MarketWords.sol";
import {StoredPosition, PositionSlots, PositionHead} from "./types/PositionSlots.sol";

/// @title ClearingHouse
/// @notice Positions, margin, fees, funding, liquidation and settlement over virtual AMMs, with
///         Perpetual Protocol v1's numbers. Margin lives in the Vault: opening debits the trader's
///         free balance, closing credits it. Each market books the collateral it holds (`collateral`),
///         so that a market's losses can never be paid out of another market or a trader's free balance.
///         Trading, margin, funding, owner functions and views run here; liquidation, settlement and
///         curve changes run in `ClearingHouseRiskModule` by DELEGATECALL (same storage, same address).
///         The jobs are one file each in contracts/clearinghouse/ (see `ClearingHouseStorage`).
contract ClearingHouse is PositionTransitions, ClearingHouseFunding, IClearingHouse {
    using WadMath for uint256;
    using WadMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @notice The risk module this ClearingHouse delegates liquidation, settlement and k changes to.
    address public immutable override riskModule;

    constructor(
        IVault vault_,
        address insuranceFund_,
        uint256 initMarginRatio_,
        uint256 maintenanceMarginRatio_,
        uint256 liquidationFeeRatio_,
        uint256 partialLiquidationRatio_,
        address owner_,
        address riskModule_
    )
        ClearingHouseStorage(
            vault_, insuranceFund_, initMarginRatio_, maintenanceMarginRatio_, liquidationFeeRatio_, partialLiquidationRatio_, owner_
        )
    {
        ClearingHouseStorage module = ClearingHouseStorage(riskModule_);
        if (module.vault() != vault_ || module.insuranceFund() != insuranceFund_) revert RiskModuleMismatch(riskModule_);
        riskModule = riskModule_;
    }

    // ===================================================================================== trading

    /// @inheritdoc IClearingHouse
    function openPosition(IAmm amm, Side side, uint256 quoteAssetAmount, uint256 leverage, uint256 baseAssetAmountLimit)
        external
        override
    {
        (uint256 imr, uint256 mmr) = _marginRatiosWhenNotPaused();
        _requireTokenAmount(quoteAssetAmount);
        if (leverage == 0) revert ZeroAmount();
        if (uint256(1e18).divWad(leverage) < imr) {
            revert LeverageTooHigh(leverage, uint256(1e18).divWad(imr));
        }
        PositionSlots storage stored = _positions[amm][msg.sender];
        StoredPosition memory old = stored.load();
        // the longs' word only when the position is or may become long: a short's trade reads one market word
        Market memory market = _listedMarket(amm, old.size > 0 || side == Side.BUY);
        _requireNotRestricted(market, old);

        bool isNew = old.size == 0;
        if (isNew || (old.size > 0) == (side == Side.BUY)) {
            (Result memory r, IAmm.SwapResult memory swap) =
                _increase(amm, market, old, side, quoteAssetAmount.mulWad(leverage), leverage, baseAssetAmountLimit);
            _checkHolding(r.size, swap.maxHoldingBaseAsset);
            _updateOpenInterest(amm, r.exchangedQuote.toInt(), swap.openInterestNotionalCap);
            _finishTrade(amm, market, r, swap, !isNew, mmr, stored);
        } else {
            IAmm.SwapResult memory swap = amm.getTradingState();
            Result memory r =
                _openReverse(amm, market, old, side, quoteAssetAmount, leverage, baseAssetAmountLimit, false, swap);
            _finishTrade(amm, market, r, swap, true, mmr, stored);
        }
    }

    /// @dev The end of every trade: the maintenance check (not for a new position), no bad debt, the Vault
    ///      settlement, the stored position and the event.
    function _finishTrade(
        IAmm amm,
        Market memory market,
        Result memory r,
        IAmm.SwapResult memory swap,
        bool checkMaintenance,
        uint256 mmr,
        PositionSlots storage stored
    ) private {
        if (checkMaintenance && r.size != 0) _requireMaintenance(amm, r, mmr);
        if (r.badDebt != 0) revert BadDebt(r.badDebt);
        uint256 fee = _settleTrader(amm, market, r, swap.tollRatio, swap.spreadRatio);
        _storeAt(stored, r, market);
        _emitPositionChanged(msg.sender, amm, r, fee, 0);
    }

    /// @inheritdoc IClearingHouse
    function closePosition(IAmm amm, uint256 quoteAssetAmountLimit) external override {
        Params memory p = _paramsWhenNotPaused();
        StoredPosition memory old = _positions[amm][msg.sender].load();
        Market memory market = _listedMarket(amm, old.size > 0);
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
        _store(amm, msg.sender, r, market);
        _emitPositionChanged(msg.sender, amm, r, fee, 0);
    }

    /// @inheritdoc IClearingHouse
    /// @dev Allowed while paused: liquidations stay open during a pause, so traders must be able to defend.
    ///      Not after a shutdown: settlement values positions at the frozen price, margin moves no more.
    function addMargin(IAmm amm, uint256 amount) external override {
        _requireTokenAmount(amount);
        MarketState state = _listedState(amm);
        if (amm.isShutdown()) revert MarketClosed();
        PositionSlots storage pos = _positions[amm][msg.sender];
        PositionHead head = pos.head;
        if (head.size() == 0) revert NoPosition();
        pos.head = head.withMargin((uint256(head.margin()) + amount).toUint96());
        // only the collateral changes: the state word alone (the longs' word is not read)
        _markets[amm].state = state.withCollateral((int256(state.collateral()) + amount.toInt()).toInt96());
        _vaultSettle(msg.sender, amount, 0, 0);
        emit MarginChanged(msg.sender, address(amm), amount.toInt(), 0);
    }

    /// @inheritdoc IClearingHouse
    function removeMargin(IAmm amm, uint256 amount) external override {
        Params memory p = _paramsWhenNotPaused();
        _requireTokenAmount(amount);
        StoredPosition memory pos = _positions[amm][msg.sender].load();
        Market memory market = _listedMarket(amm, pos.size > 0);
        if (amm.isShutdown()) revert MarketClosed();
        if (pos.size == 0) revert NoPosition();
        int256 fundingPayment = _fundingPayment(market, pos);
        int256 remain = int256(uint256(pos.margin)) - amount.toInt() - fundingPayment;
        if (remain < 0) revert BadDebt(uint256(-remain));
        pos.margin = uint256(remain).toUint96();
        pos.lastUpdatedCumulativePremiumFraction = _cumulative(market, pos.size > 0).toInt128();
        // inlined (no library hop on this path): the pool state, then the 15-minute TWAP, from the Amm
        (uint256 q, uint256 b) = amm.getReserve();
        int256 free = MarginRatio.freeCollateral(amm, pos.size, pos.openNotional, remain, p.initMarginRatio, q, b);
        if (free < 0) revert NotEnoughFreeCollateral(free);
        // only the margin and the funding snapshot change (not the restriction block): two field writes
        PositionSlots storage stored = _positions[amm][msg.sender];
        stored.head = stored.head.withMargin(pos.margin);
        stored.tail = stored.tail.withCumulative(pos.lastUpdatedCumulativePremiumFraction);
        market.collateral = (int256(market.collateral) - amount.toInt()).toInt96();
        if (market.collateral < 0) _requirePrepaid(amm, market);
        _writeMarket(amm, market);
        _vaultSettle(msg.sender, 0, amount, 0);
        emit MarginChanged(msg.sender, address(amm), -amount.toInt(), fundingPayment);
    }

    /// @inheritdoc IClearingHouse
    /// @dev Runs here, not in the risk module: a keeper's call every period saves the module's cold account.
    function payFunding(IAmm amm) external override {
        _payFunding(amm);
    }

    // ============================================================ delegated to the risk module

    /// @inheritdoc IClearingHouse
    function liquidate(IAmm, address) external override {
        _delegateToRiskModule();
    }

    /// @inheritdoc IClearingHouse
    function settlePosition(IAmm) external override {
        _delegateToRiskModule();
    }

    /// @inheritdoc IClearingHouse
    function claimSettlement(IAmm, address) external override {
        _delegateToRiskModule();
    }

    /// @inheritdoc IClearingHouse
    function adjustK(IAmm, uint256) external override returns (int256) {
        return abi.decode(_delegateToRiskModule(), (int256));
    }

    /// @inheritdoc IClearingHouse
    function repeg(IAmm, uint256) external override returns (int256) {
        return abi.decode(_delegateToRiskModule(), (int256));
    }

    /// @inheritdoc IClearingHouse
    function adjustK(IAmm, uint256, int256) external override returns (int256) {
        return abi.decode(_delegateToRiskModule(), (int256));
    }

    /// @inheritdoc IClearingHouse
    function repeg(IAmm, uint256, int256) external override returns (int256) {
        return abi.decode(_delegateToRiskModule(), (int256));
    }

    // ======================================================================================= owner

    /// @inheritdoc IClearingHouse
    function setLiquidityController(address controller) external override onlyOwner {
        liquidityController = controller;
        emit LiquidityControllerChanged(controller);
    }

    /// @inheritdoc IClearingHouse
    function addAmm(IAmm amm) external override onlyOwner {
        Market memory m = _loadMarket(amm);
        if (m.listed) revert MarketAlreadyListed(address(amm));
        address itsClearingHouse = amm.clearingHouse();
        if (itsClearingHouse != address(this)) revert AmmOfAnotherClearingHouse(address(amm), itsClearingHouse);
        m.listed = true;
        m.longsChanged = true; // the longs' word: zero cumulative and size (never a zero word: `MarketLongs`)
        _writeMarket(amm, m);
        emit MarketListed(address(amm));
    }

    /// @inheritdoc IClearingHouse
    function setParams(uint256 initMarginRatio_, uint256 maintenanceMarginRatio_, uint256 liquidationFeeRatio_, uint256 partialLiquidationRatio_)
        external
        override
        onlyOwner
    {
        _setParams(initMarginRatio_, maintenanceMarginRatio_, liquidationFeeRatio_, partialLiquidationRatio_);
    }

    /// @inheritdoc IClearingHouse
    function setFeePool(address feePool_) external override onlyOwner {
        feePool = feePool_;
        emit FeePoolChanged(feePool_);
    }

    /// @inheritdoc IClearingHouse
    function setGuardian(address guardian_) external override onlyOwner {
        guardian = guardian_;
        emit GuardianChanged(guardian_);
    }

    /// @inheritdoc IClearingHouse
    function pause() external override {
        if (msg.sender != owner() && msg.sender != guardian) revert OwnableUnauthorizedAccount(msg.sender);
        _params = _params.withPaused(true);
        emit Paused(msg.sender);
    }

    /// @inheritdoc IClearingHouse
    function unpause() external override onlyOwner {
        _params = _params.withPaused(false);
        emit Unpaused(msg.sender);
    }

    /// @inheritdoc IClearingHouse
    function paused() external view override returns (bool) {
        return _params.paused();
    }
    // ======================================================================================= views

    /// @inheritdoc IClearingHouse
    function initMarginRatio() external view override returns (uint256) {
        return _params.initMarginRatio();
    }

    /// @inheritdoc IClearingHouse
    function maintenanceMarginRatio() external view override returns (uint256) {
        return _params.maintenanceMarginRatio();
    }

    /// @inheritdoc IClearingHouse
    function liquidationFeeRatio() external view override returns (uint256) {
        return _params.liquidationFeeRatio();
    }

    /// @inheritdoc IClearingHouse
    function partialLiquidationRatio() external view override returns (uint256) {
        return _params.partialLiquidationRatio();
    }

    /// @inheritdoc IClearingHouse
    function getMarket(IAmm amm)
        external
        view
        override
        returns (bool listed, int256 collateral, uint256 lastRestrictionBlock)
    {
        Market memory m = _loadMarket(amm);
        return (m.listed, m.collateral, m.lastRestrictionBlock);
    }

    /// @inheritdoc IClearingHouse
    function getPosition(IAmm amm, address trader) external view override returns (Position memory) {
        StoredPosition memory s = _positions[amm][trader].load();
        return Position(s.size, s.margin, s.openNotional, s.lastUpdatedCumulativePremiumFraction);
    }

    /// @inheritdoc IClearingHouse
    function getPositionNotionalAndUnrealizedPnl(IAmm amm, address trader, PnlCalcOption option)
        public
        view
        override
        returns (uint256 positionNotional, int256 unrealizedPnl)
    {
        StoredPosition memory pos = _positions[amm][trader].load();
        return MarginMath.notionalAndPnl(amm, pos.size, pos.openNotional, uint8(option));
    }

    /// @inheritdoc IClearingHouse
    function getMarginRatio(IAmm amm, address trader) external view override returns (int256) {
        StoredPosition memory pos = _positions[amm][trader].load();
        if (pos.size == 0) revert NoPosition();
        return MarginMath.liquidationMarginRatio(amm, pos.size, pos.openNotional, _equity(_loadMarket(amm), pos));
    }

    /// @inheritdoc IClearingHouse
    function getFreeCollateral(IAmm amm, address trader) external view override returns (int256) {
        StoredPosition memory pos = _positions[amm][trader].load();
        if (pos.size == 0) return 0;
        return MarginMath.freeCollateral(
            amm, pos.size, pos.openNotional, _equity(_loadMarket(amm), pos), _params.initMarginRatio()
        );
    }

    /// @inheritdoc IClearingHouse
    function getLatestCumulativePremiumFraction(IAmm amm) external view override returns (int256) {
        return _cumulative(_loadMarket(amm), true);
    }

    /// @inheritdoc IClearingHouse
    function getFunding(IAmm amm) external view override returns (FundingState memory f) {
        Market memory m = _loadMarket(amm);
        f.cumulativeLong = m.cumLong;
        f.cumulativeShort = m.cumShort;
        f.longSize = m.longSize;
        // the shorts are the longs less the net position
        f.shortSize = (m.longSize.toInt() - amm.totalPositionSize()).toUint256();
    }

    /// @inheritdoc IClearingHouse
    function prepaidBadDebt(IAmm amm) external view override returns (uint256) {
        return _prepaidBadDebt[amm];
    }

    /// @inheritdoc IClearingHouse
    function unpaidBadDebt() external view override returns (uint256) {
        return _unpaidBadDebt;
    }

    /// @inheritdoc IClearingHouse
    function getSettlement(IAmm amm) public view override returns (Settlement memory s) {
        SettlementBook memory book = _settlements[amm];
        s.windowEnd = amm.settlementWindowEnd();
        s.totalClaims = book.totalClaims;
        s.paid = book.paid;
        s.unpaidClaims = book.unpaidClaims;
        s.finalized = book.finalized;
        if (book.finalized) {
            s.available = book.available;
        } else {
            // what finalizing now would fix: the collateral, topped up by the fund when short
            uint256 held = int256(_loadMarket(amm).collateral).toUint256();
            if (held < s.totalClaims) held += Math.min(vault.balanceOfWad(insuranceFund), s.totalClaims - held);
            s.available = Math.min(held, s.totalClaims);
        }
    }

    /// @inheritdoc IClearingHouse
    function getSettlementClaim(IAmm amm, address trader) external view override returns (uint256 claim, uint256 payout) {
        claim = _settlementClaims[amm][trader];
        Settlement memory s = getSettlement(amm);
        payout = s.available == s.totalClaims ? claim : claim * s.available / s.totalClaims;
    }

    /// @inheritdoc IClearingHouse
    function maxCurveMove() external view override returns (uint256) {
        return _maxCurveMove();
    }

    /// @dev Runs the same call (this call's calldata: the risk module has the same function) in the risk module on
    ///      this contract's storage and returns what it returned; a refusal comes back unchanged (OpenZeppelin's
    ///      `Address` bubbles the revert data).
    function _delegateToRiskModule() private returns (bytes memory) {
        return Address.functionDelegateCall(riskModule, msg.data);
    }
}
