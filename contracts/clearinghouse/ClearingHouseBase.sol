// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAmm} from "../../interfaces/IAmm.sol";
import {IClearingHouseTypes, IClearingHouseState} from "../../interfaces/IClearingHouse.sol";
import {IVault} from "../../interfaces/IVault.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {PoolMath} from "../libraries/PoolMath.sol";
import {PositionMath} from "../libraries/PositionMath.sol";
import {KMath} from "../libraries/KMath.sol";
import {MarginMath} from "../libraries/MarginMath.sol";
import {ChainBlock} from "../libraries/ChainBlock.sol";
import {FundingMath} from "../libraries/FundingMath.sol";
import {IInsuranceFund} from "../../interfaces/IInsuranceFund.sol";
import {MarginParams, MarginParamsLibrary} from "../types/MarginParams.sol";
import {StoredMarket, MarketState, MarketLongs, MarketWords} from "../types/MarketWords.sol";
import {StoredPosition, PositionSlots} from "../types/PositionSlots.sol";

/// @title ClearingHouse state and position logic
/// @notice Storage, constructor and the internal position logic shared by the `ClearingHouse` (trading,
///         owner, views) and its `ClearingHouseRiskModule` (liquidation, funding, settlement, k changes),
///         which the ClearingHouse runs by DELEGATECALL on its own storage. Perp v1's numbers throughout.
abstract contract ClearingHouseBase is IClearingHouseTypes, IClearingHouseState, Ownable {
    using WadMath for uint256;
    using WadMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @dev The margin parameters (`MarginParams`), unpacked to wad.
    struct Params {
        uint256 initMarginRatio;
        uint256 maintenanceMarginRatio;
        uint256 liquidationFeeRatio;
        uint256 partialLiquidationRatio;
    }

    uint256 internal constant PARAM_UNIT = MarginParamsLibrary.UNIT;
    /// @dev The share of the maintenance margin ratio by which one block's curve changes may move the value of
    ///      positions (price move plus base-reserve shrink, relative): half (docs/security.md, curve changes).
    uint256 internal constant CURVE_MOVE_SHARE = 0.5e18;
    /// @dev A market, unpacked from its two words (`StoredMarket`, types/MarketWords.sol).
    struct Market {
        bool listed;
        uint32 lastRestrictionBlock;
        int96 collateral; // wad held in the Vault for this market's positions
        // funding: longs read `cumLong`, shorts `cumShort`; they differ only after the receivers were paid less
        // than the premium (the InsuranceFund could not pay the pool's side)
        int256 cumShort;
        bool longsLoaded; // the longs' word was read: `longSize` and `cumLong` are valid
        bool longsChanged; // ... and changed: `_writeMarket` writes it back
        uint256 longSize; // Σ long sizes (wad); the shorts are the longs less the Amm's net size
        int256 cumLong;
    }

    /// @dev A shut-down market's claim book (wad amounts): the claims registered in the window, and once the
    ///      first payout after the window has finalized it, what they share and what has been paid. Registering
    ///      writes the first slot only.
    struct SettlementBook {
        uint128 totalClaims;
        uint64 unpaidClaims;
        bool finalized;
        uint128 available;
        uint128 paid;
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

    IVault public immutable override vault;
    address public immutable override insuranceFund;
    /// @dev Wad per token unit of the quote token: amounts below one token unit are rejected (v1).
    uint256 internal immutable _tokenScale;
    /// @dev Deployed on an Arbitrum chain: "this block" is the L2 block (`ChainBlock`).
    bool private immutable _onArbitrum;
    MarginParams internal _params;
    /// @notice Receives the toll; zero means the InsuranceFund.
    address public override feePool;
    /// @notice May call adjustK and repeg besides the owner (the automatic liquidity controller).
    address public override liquidityController;
    mapping(IAmm amm => StoredMarket) internal _markets;
    mapping(IAmm amm => uint256) public override openInterestNotional;
    mapping(IAmm amm => mapping(address trader => PositionSlots)) internal _positions;
    /// @dev Per market, what the InsuranceFund paid in ahead of the bad debt behind it (wad): a payout
    ///         that needed more than the market's collateral (v1's prepaid bad debt). Netted against the
    ///         market's later bad debt, so the fund pays each loss once. Read only on those paths.
    mapping(IAmm amm => uint256) internal _prepaidBadDebt;
    /// @dev Bad debt the InsuranceFund could not pay (wad; its markets halted): not part of its surplus.
    uint256 internal _unpaidBadDebt;
    /// @notice May pause trading, and do nothing else (unpausing is the owner's: on live deployments a
    ///         timelock). Zero: none.
    address public override guardian;
    /// @dev Per shut-down market, its settlement's claim book.
    mapping(IAmm amm => SettlementBook) internal _settlements;
    /// @dev Per shut-down market and trader, the claim registered in the window and not paid yet (wad).
    mapping(IAmm amm => mapping(address trader => uint256)) internal _settlementClaims;
    /// @dev Per halted market, its part of `_unpaidBadDebt` (wad), released when its settlement is finalized.
    mapping(IAmm amm => uint256) internal _haltShortfall;

    constructor(
        IVault vault_,
        address insuranceFund_,
        uint256 initMarginRatio_,
        uint256 maintenanceMarginRatio_,
        uint256 liquidationFeeRatio_,
        uint256 partialLiquidationRatio_,
        address owner_
    ) Ownable(owner_) {
        if (address(vault_) == address(0) || insuranceFund_ == address(0)) revert ZeroAddress();
        vault = vault_;
        insuranceFund = insuranceFund_;
        _tokenScale = vault_.scale();
        _onArbitrum = ChainBlock.onArbitrum();
        _setParams(initMarginRatio_, maintenanceMarginRatio_, liquidationFeeRatio_, partialLiquidationRatio_);
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

    // =================================================================================== margin math

    /// @dev What `pos` owes (> 0) or is owed in funding since its last update, from its own side's cumulative
    ///      premium fraction (v1's truncation toward zero).
    function _fundingPayment(Market memory market, StoredPosition memory pos) internal pure returns (int256) {
        if (pos.size == 0) return 0;
        return (_cumulative(market, pos.size > 0) - pos.lastUpdatedCumulativePremiumFraction).mulWad(pos.size);
    }

    /// @dev The cumulative premium fraction of the longs (`isLong`) or the shorts.
    function _cumulative(Market memory market, bool isLong) internal pure returns (int256) {
        if (!isLong) return market.cumShort;
        assert(market.longsLoaded); // every path that may touch a long loads the longs' word
        return market.cumLong;
    }

    /// @dev Spot-price margin ratio of a stored position.
    function _spotMarginRatio(Market memory market, StoredPosition memory pos, uint256 q, uint256 b)
        internal
        pure
        returns (int256)
    {
        (uint256 notional, int256 pnl) = PositionMath.spotNotionalAndPnl(pos.size, pos.openNotional, q, b);
        return _ratio(market, pos, notional, pnl);
    }

    function _ratio(Market memory market, StoredPosition memory pos, uint256 notional, int256 pnl)
        internal
        pure
        returns (int256)
    {
        int256 value = int256(uint256(pos.margin)) + pnl - _fundingPayment(market, pos);
        return value.divWad(notional.toInt());
    }

    /// @dev After a trade: the new position must meet the maintenance ratio. The TWAP is only read when
    ///      the spot ratio fails (MAX_PNL passes if either passes).
    function _requireMaintenance(IAmm amm, Market memory market, Result memory r, uint256 mmr) internal view {
        StoredPosition memory pos;
        pos.size = r.size.toInt128();
        pos.margin = r.margin.toUint96();
        pos.openNotional = r.openNotional.toUint128();
        pos.lastUpdatedCumulativePremiumFraction = _cumulative(market, r.size > 0).toInt128();
        int256 ratio = _spotMarginRatio(market, pos, r.quoteReserve, r.baseReserve);
        if (ratio >= int256(mmr)) return;
        int256 withTwap = MarginMath.maxPnlMarginRatio(
            amm, r.size, r.openNotional, r.margin.toInt(), r.quoteReserve, r.baseReserve
        );
        if (withTwap < int256(mmr)) revert MarginRatioTooLow(withTwap, mmr);
    }

    function _equity(Market memory market, StoredPosition memory pos) internal pure returns (int256) {
        return int256(uint256(pos.margin)) - _fundingPayment(market, pos);
    }

    // ============================================================================ bookkeeping

    /// @dev Moves the trader's margin and fees through the Vault and books the market's collateral.
    function _settleTrader(IAmm amm, Market memory market, Result memory r, uint256 tollRatio, uint256 spreadRatio)
        internal
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
        if (market.collateral < 0) _requirePrepaid(amm, market);
        _trackSize(market, r.size - r.exchangedSize, r.size);
        _writeMarket(amm, market);
        address pool = toll == 0 ? address(0) : feePool;
        if (pool == address(0)) {
            _vaultSettle(msg.sender, debit, creditBack, fee);
        } else {
            _vaultSettle(msg.sender, debit, creditBack, spread);
            vault.credit(pool, toll);
        }
    }

    /// @dev One Vault call: `account`'s ledger movement and the InsuranceFund's income (fee recipient zero:
    ///      the fund's income field, see IVault.settle).
    function _vaultSettle(address account, uint256 debitWad, uint256 creditWad, uint256 fundWad) internal {
        vault.settle(account, debitWad, creditWad, address(0), fundWad);
    }

    /// @dev payFunding (v1): both sides' cumulative premium fractions grow by the Amm's premium fraction
    ///      and the pool's side of the imbalance is paid to (or drawn from) the InsuranceFund; the fund pays out of
    ///      its surplus only, and when that is short the receiving side's fraction grows by what there is instead
    ///      (`FundingShortfall`): funding never halts a market.
    function _payFunding(IAmm amm) internal {
        Market memory market = _listedMarket(amm);
        (int256 premiumFraction, int256 totalSize) = amm.settleFunding();
        // the pool's side of the imbalance: positive = the InsuranceFund earns it
        int256 poolPnl = premiumFraction.mulWad(totalSize);
        int256 receiversFraction = premiumFraction;
        if (poolPnl < 0) {
            uint256 owed = uint256(-poolPnl);
            uint256 paid = _drawFundSurplus(owed);
            if (paid < owed) {
                // the receivers share the payers' payment and what the fund paid; shorts = longs − net
                bool longsPay = premiumFraction > 0;
                uint256 shortSize = (market.longSize.toInt() - totalSize).toUint256();
                uint256 perUnit = FundingMath.receiversShare(
                    WadMath.abs(premiumFraction),
                    longsPay ? market.longSize : shortSize,
                    longsPay ? shortSize : market.longSize,
                    paid
                );
                receiversFraction = longsPay ? perUnit.toInt() : -perUnit.toInt();
                poolPnl = -paid.toInt();
                emit FundingShortfall(address(amm), owed, paid);
            }
            market.collateral = (int256(market.collateral) + paid.toInt()).toInt96();
        } else if (poolPnl > 0) {
            market.collateral = (int256(market.collateral) - poolPnl).toInt96();
            _vaultSettle(address(0), 0, 0, uint256(poolPnl));
            // the fund's income above what the market holds comes back as a prepayment (the traders owe it)
            if (market.collateral < 0) _requirePrepaid(amm, market);
        }
        if (premiumFraction > 0) {
            market.cumLong += premiumFraction;
            market.cumShort += receiversFraction;
        } else {
            market.cumShort += premiumFraction;
            market.cumLong += receiversFraction;
        }
        market.longsChanged = true;
        _writeMarket(amm, market);
        emit FundingPaid(address(amm), premiumFraction, market.cumLong, poolPnl);
    }

    /// @dev The InsuranceFund pays up to `amount` (wad) for funding, out of its surplus only (neither its reserve
    ///      floor nor the bad debt it still owes); returns what it paid.
    function _drawFundSurplus(uint256 amount) internal returns (uint256 paid) {
        uint256 available = IInsuranceFund(insuranceFund).surplus();
        paid = amount < available ? amount : available;
        if (paid != 0) paid = vault.debitUpTo(insuranceFund, paid);
    }

    /// @dev The InsuranceFund pays `amount` into the market; what it cannot pay halts the market.
    ///      The caller has booked `amount` into `market.collateral`; the unpaid part is taken back out of
    ///      it here (the caller writes `market` to storage afterwards).
    function _drawInsurance(IAmm amm, Market memory market, uint256 amount) internal {
        uint256 paid = vault.debitUpTo(insuranceFund, amount);
        if (paid < amount) {
            uint256 shortfall = amount - paid;
            market.collateral = (int256(market.collateral) - shortfall.toInt()).toInt96();
            _halt(amm, shortfall);
        }
    }

    /// @dev Shuts `amm` down because the InsuranceFund could not pay `shortfall` (wad), which stays owed.
    function _halt(IAmm amm, uint256 shortfall) internal {
        _unpaidBadDebt += shortfall;
        _haltShortfall[amm] += shortfall;
        if (!amm.isShutdown()) amm.shutdown();
        emit MarketHalted(address(amm), shortfall);
    }

    /// @dev Containment: a market never pays out more than it holds. The caller booked a payout that took
    ///      the market's collateral below zero; the InsuranceFund pays the difference in now (v1's prepaid
    ///      bad debt) and the market's collateral is back at zero. Returns what the fund could not pay (the
    ///      collateral then stays that much below zero: the caller refuses or cuts the payout).
    function _prepay(IAmm amm, Market memory market) internal returns (uint256 unpaid) {
        uint256 need = uint256(-int256(market.collateral));
        uint256 paid = vault.debitUpTo(insuranceFund, need);
        if (paid != 0) {
            _prepaidBadDebt[amm] += paid;
            emit BadDebtPrepaid(address(amm), paid);
        }
        unpaid = need - paid;
        market.collateral = -unpaid.toInt().toInt96();
    }

    /// @dev `_prepay`, all or nothing: the action is refused when the fund cannot pay the whole difference.
    function _requirePrepaid(IAmm amm, Market memory market) internal {
        uint256 need = uint256(-int256(market.collateral));
        uint256 unpaid = _prepay(amm, market);
        if (unpaid != 0) revert InsuranceFundInsufficient(need, need - unpaid);
    }

    /// @dev Bad debt `amount` (wad) realised in `amm`, already booked into `market.collateral`: what the fund
    ///      prepaid for it is netted out (taken back out of the collateral); returns what the fund still owes.
    function _netPrepaid(IAmm amm, Market memory market, uint256 amount) internal returns (uint256) {
        uint256 prepaid = _prepaidBadDebt[amm];
        if (prepaid == 0) return amount;
        uint256 used = prepaid < amount ? prepaid : amount;
        _prepaidBadDebt[amm] = prepaid - used;
        market.collateral = (int256(market.collateral) - used.toInt()).toInt96();
        return amount - used;
    }

    /// @dev Stores the position of `r` with its side's cumulative premium fraction now.
    function _store(IAmm amm, address trader, Result memory r, Market memory market) internal {
        _storeAt(_positions[amm][trader], r, market);
    }

    function _storeAt(PositionSlots storage s, Result memory r, Market memory market) internal {
        if (r.size == 0) {
            _writePosition(s, 0, 0, 0, 0);
        } else {
            _writePosition(
                s, r.size.toInt128(), r.margin.toUint96(), r.openNotional.toUint128(), _cumulative(market, r.size > 0).toInt128()
            );
        }
    }

    /// @dev Writes a position (both words, no read); the block number is stamped for restriction mode.
    function _writePosition(PositionSlots storage s, int128 size, uint96 margin, uint128 openNotional, int128 cumulative)
        internal
    {
        s.store(size, margin, _blockNumber(), openNotional, cumulative);
    }

    /// @dev Loads a market, both words.
    function _loadMarket(IAmm amm) internal view returns (Market memory m) {
        return _loadMarket(amm, true);
    }

    /// @dev Loads a market's state word, and its longs' word when `withLongs` (one SLOAD less for a short's trade).
    function _loadMarket(IAmm amm, bool withLongs) internal view returns (Market memory m) {
        StoredMarket storage s = _markets[amm];
        MarketState state = s.state;
        m.listed = state.listed();
        if (!m.listed) return m; // never listed: zero (not offset binary)
        m.lastRestrictionBlock = state.lastRestrictionBlock();
        m.collateral = state.collateral();
        m.cumShort = state.cumShort();
        if (withLongs) {
            MarketLongs longs = s.longs;
            m.longsLoaded = true;
            m.cumLong = longs.cumLong();
            m.longSize = longs.longSize();
        }
    }

    /// @dev A position of the market went from `oldSize` to `newSize`: the longs' total size follows (the
    ///      shorts' is the longs' less the Amm's net size). A short's change leaves it alone.
    function _trackSize(Market memory m, int256 oldSize, int256 newSize) internal pure {
        if (oldSize <= 0 && newSize <= 0) return;
        assert(m.longsLoaded); // every path that may touch a long loads the longs' word
        m.longSize = m.longSize + (newSize > 0 ? uint256(newSize) : 0) - (oldSize > 0 ? uint256(oldSize) : 0);
        m.longsChanged = true;
    }

    /// @dev Writes a market: its state word (a whole word: one SSTORE, no read) and, when it changed, the longs'
    ///      word.
    function _writeMarket(IAmm amm, Market memory m) internal {
        StoredMarket storage s = _markets[amm];
        s.state = MarketWords.packState(m.listed, m.lastRestrictionBlock, m.collateral, m.cumShort.toInt96());
        if (m.longsChanged) s.longs = MarketWords.packLongs(m.cumLong.toInt96(), m.longSize.toUint96());
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

    /// @dev v1's requireValidTokenAmount: zero, or less than one unit of the quote token, is rejected.
    function _requireTokenAmount(uint256 amountWad) internal view {
        if (amountWad < _tokenScale || amountWad == 0) revert ZeroAmount();
    }

    function _paramsWhenNotPaused() internal view returns (Params memory) {
        MarginParams s = _params;
        if (s.paused()) revert EnforcedPause();
        return _unpack(s);
    }

    /// @dev The initial and maintenance margin ratios (wad), reverting while paused.
    function _marginRatiosWhenNotPaused() internal view returns (uint256 imr, uint256 mmr) {
        MarginParams s = _params;
        if (s.paused()) revert EnforcedPause();
        return (s.initMarginRatio(), s.maintenanceMarginRatio());
    }

    function _unpack(MarginParams s) internal pure returns (Params memory) {
        return Params(s.initMarginRatio(), s.maintenanceMarginRatio(), s.liquidationFeeRatio(), s.partialLiquidationRatio());
    }

    /// @dev The most one block's curve changes may move positions' value (wad): see `CURVE_MOVE_SHARE`.
    function _maxCurveMove() internal view returns (uint256) {
        return _params.maintenanceMarginRatio() * CURVE_MOVE_SHARE / 1e18;
    }

    /// @dev A listed market's state word.
    function _listedState(IAmm amm) internal view returns (MarketState state) {
        state = _markets[amm].state;
        if (!state.listed()) revert UnknownMarket(address(amm));
    }

    function _listedMarket(IAmm amm) internal view returns (Market memory market) {
        return _listedMarket(amm, true);
    }

    /// @dev A listed market, its longs' word read when `withLongs` (see `_loadMarket`).
    function _listedMarket(IAmm amm, bool withLongs) internal view returns (Market memory market) {
        market = _loadMarket(amm, withLongs);
        if (!market.listed) revert UnknownMarket(address(amm));
    }

    function _requireNotRestricted(Market memory market, StoredPosition memory pos) internal view {
        // the block number is read only when the two stored blocks agree (a restriction is rare)
        if (market.lastRestrictionBlock == pos.lastBlock && pos.lastBlock == _blockNumber()) revert RestrictionMode();
    }

    /// @dev The chain's own block number (the L2 block on Arbitrum, `ChainBlock`) truncated to 32 bits, as
    ///      restriction mode stores it (compared for equality only).
    function _blockNumber() internal view returns (uint32) {
        return uint32(ChainBlock.number(_onArbitrum));
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

    function _requireInUnits(uint256 ratio) private pure {
        if (ratio % PARAM_UNIT != 0) revert RatioNotInUnits(ratio, PARAM_UNIT);
    }

    function _setParams(uint256 imr, uint256 mmr, uint256 lfr, uint256 plr) internal {
        if (imr == 0 || imr > 1e18) revert InitMarginRatioOutOfRange(imr);
        if (mmr > imr) revert MaintenanceAboveInitial(mmr, imr);
        if (lfr > 1e18) revert RatioAboveOne(lfr);
        if (plr > 1e18) revert RatioAboveOne(plr);
        _requireInUnits(imr);
        _requireInUnits(mmr);
        _requireInUnits(lfr);
        _requireInUnits(plr);
        // each ratio <= 1e18, so / PARAM_UNIT < 2^56
        _params = MarginParamsLibrary.pack(
            uint56(imr / PARAM_UNIT), uint56(mmr / PARAM_UNIT), uint56(lfr / PARAM_UNIT), uint56(plr / PARAM_UNIT), _params.paused()
        );
        emit ParametersChanged(imr, mmr, lfr, plr);
    }
}
