// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAmm} from "../../interfaces/IAmm.sol";
import {IClearingHouseTypes, IClearingHouseState} from "../../interfaces/IClearingHouse.sol";
import {IVault} from "../../interfaces/IVault.sol";
import {ChainBlock} from "../libraries/ChainBlock.sol";
import {MarginParams, MarginParamsLibrary} from "../types/MarginParams.sol";
import {StoredMarket, MarketState, MarketLongs, MarketWords} from "../types/MarketWords.sol";
import {StoredPosition, PositionSlots} from "../types/PositionSlots.sol";

/// @title ClearingHouse storage
/// @notice The ClearingHouse's state (the only contract in its inheritance that declares any), its constructor,
///         and the typed access every job shares: markets and positions loaded and written as whole words
///         (contracts/types/), the margin parameters, the listing and restriction guards. The jobs build on it,
///         one file each: `ClearingHouseMargin` → `ClearingHouseCollateral` → `ClearingHouseFunding` and
///         `PositionTransitions`, used by the `ClearingHouse` (trading, margin moves, funding, owner, views) and
///         by the `ClearingHouseRiskModule` (`Liquidation`, `Settlement`, `CurveChanges`), which the ClearingHouse
///         runs by DELEGATECALL on this same storage. Perp v1's numbers throughout.
abstract contract ClearingHouseStorage is IClearingHouseTypes, IClearingHouseState, Ownable {
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

    /// @dev The cumulative premium fraction of the longs (`isLong`) or the shorts.
    function _cumulative(Market memory market, bool isLong) internal pure returns (int256) {
        if (!isLong) return market.cumShort;
        assert(market.longsLoaded); // every path that may touch a long loads the longs' word
        return market.cumLong;
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

    /// @dev A listed market, its longs' word read when `withLongs`.
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
