// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAmm} from "../interfaces/IAmm.sol";
import {IPriceFeed} from "../interfaces/IPriceFeed.sol";
import {WadMath} from "./libraries/WadMath.sol";
import {PoolMath} from "./libraries/PoolMath.sol";
import {MarkTwap, OBSERVATION_CAPACITY} from "./libraries/MarkTwap.sol";
import {Observation} from "./types/Observation.sol";
import {PoolSlot, PoolSlotLibrary, Slot0} from "./types/PoolSlot.sol";
import {TradingParams, TradingParamsLibrary} from "./types/TradingParams.sol";
import {ChainBlock} from "./libraries/ChainBlock.sol";

/// @title Virtual constant-product market
/// @notice A state machine over two packed reserves, a mark-price accumulator and funding. All math
///         lives in `libraries/`; Perp v1's numbers are reproduced to the wei.
contract Amm is IAmm, Ownable {
    using WadMath for uint256;
    using WadMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;
    using MarkTwap for Observation[OBSERVATION_CAPACITY];

    /// @dev Funding schedule and the last rate.
    struct Funding {
        uint32 fundingPeriod;
        uint32 nextFundingTime;
        uint64 maxFundingRate;
        int128 fundingRate;
    }

    /// @dev The mark accumulator (Σ price × seconds, modulo 2^144) at the start of the funding window.
    struct MarkCheckpoint {
        uint32 timestamp;
        uint144 cumulative;
    }

    uint256 private constant ORACLE_SPREAD_LIMIT = 0.1e18;
    /// @dev Transient (EIP-1153) slots, for the rest of the transaction: the reserves its last curve change left,
    ///      and the reserves at the start of the block (before its first curve change). See `resetReserves`.
    bytes32 private constant T_CHANGE_LEFT = keccak256("perp.Amm.curveChangeLeft");
    bytes32 private constant T_BLOCK_START = keccak256("perp.Amm.blockStart");
    /// @dev The highest mark an observation can record (its price field is 80 bits): 1,208,925.8 quote per base.
    uint256 private constant MAX_MARK = type(uint80).max;
    uint256 private constant ONE_DAY = 1 days;
    /// @dev Below this net size (wei) a shutdown treats the market as flat (v1's rounding allowance).
    uint256 private constant IGNORABLE_SIZE_FOR_SHUTDOWN = 100;
    /// @dev The settlement claim window a shutdown opens (seconds): its default and the setter's bounds.
    uint256 private constant DEFAULT_SETTLEMENT_WINDOW = 3 days;
    uint256 private constant MIN_SETTLEMENT_WINDOW = 1 hours;
    uint256 private constant MAX_SETTLEMENT_WINDOW = 30 days;

    /// @inheritdoc IAmm
    address public immutable override clearingHouse;
    /// @inheritdoc IAmm
    bytes32 public immutable override priceFeedKey;

    uint256 private constant RATIO_UNIT = TradingParamsLibrary.RATIO_UNIT;
    uint256 private constant CAP_UNIT = TradingParamsLibrary.CAP_UNIT;

    /// @dev Bounds (18 decimals): quote reserve < 2e13 units, base reserve < 7.9e10 units (`ReserveOverflow`
    ///      beyond); mark <= 2^80 - 1 wad (the observations' price field: `MarkOutOfRange` beyond).
    PoolSlot private _slot0;
    TradingParams private _params;
    Funding private _funding;
    /// @dev totalPositionSize = baseAtZeroPosition − baseReserve: swaps move the base reserve by exactly
    ///      the base the traders receive or give, so the net position needs no storage write per trade.
    uint256 private _baseAtZeroPosition;
    /// @inheritdoc IAmm
    /// @dev Immutable: the adapter itself can replace the aggregator behind a key.
    IPriceFeed public immutable override priceFeed;
    /// @dev Deployed on an Arbitrum chain: "this block" is the L2 block (`ChainBlock`).
    bool private immutable _onArbitrum;
    /// @inheritdoc IAmm
    bool public override isShutdown;
    /// @dev Packed with `isShutdown`: the claim window a shutdown will open (seconds), and once shut down the
    ///      time it closes (fixed at the shutdown: a later setting cannot move it).
    uint32 private _settlementWindow;
    uint32 private _settlementWindowEnd;
    uint256 private _settlementPrice;
    /// @inheritdoc IAmm
    uint256 public override initialQuoteAssetReserve;
    Observation[OBSERVATION_CAPACITY] private _observations;
    uint256 private _grownTo;
    /// @dev Where the current funding window starts: the last settlement, or the opening (see `setOpen`).
    MarkCheckpoint private _fundingWindow;

    modifier onlyClearingHouse() {
        if (msg.sender != clearingHouse) revert OnlyClearingHouse(msg.sender);
        _;
    }

    struct Config {
        uint256 quoteAssetReserve;
        uint256 baseAssetReserve;
        uint256 tradeLimitRatio;
        uint256 fundingPeriod;
        uint256 fluctuationLimitRatio;
        uint256 tollRatio;
        uint256 spreadRatio;
        uint256 maxHoldingBaseAsset;
        uint256 openInterestNotionalCap;
        uint256 maxFundingRate;
    }

    constructor(Config memory config, IPriceFeed feed, bytes32 key, address clearingHouse_, address owner_)
        Ownable(owner_)
    {
        if (address(feed) == address(0) || clearingHouse_ == address(0)) revert ZeroAddress();
        if (config.quoteAssetReserve == 0 || config.baseAssetReserve == 0) revert ZeroReserve();
        if (config.fundingPeriod == 0) revert ZeroFundingPeriod();
        _onArbitrum = ChainBlock.onArbitrum();
        clearingHouse = clearingHouse_;
        priceFeed = feed;
        priceFeedKey = key;
        TradingParams p;
        p = _setRatios(p, config.tradeLimitRatio, config.fluctuationLimitRatio, config.tollRatio, config.spreadRatio);
        _params = _setCaps(p, config.maxHoldingBaseAsset, config.openInterestNotionalCap);
        _funding.fundingPeriod = config.fundingPeriod.toUint32();
        _setMaxFundingRate(config.maxFundingRate);
        _settlementWindow = uint32(DEFAULT_SETTLEMENT_WINDOW);
        _slot0 = Slot0({
            quoteReserve: _toReserve(config.quoteAssetReserve),
            baseReserve: _toBaseReserve(config.baseAssetReserve),
            lastBlock: _blockNumber(),
            observationIndex: 0,
            open: false
        }).pack();
        _baseAtZeroPosition = config.baseAssetReserve;
        initialQuoteAssetReserve = _quoteAtZeroPosition(config.quoteAssetReserve, config.baseAssetReserve, 0);
        _observations.initialize(
            _blockTimestamp(), _toPrice(PoolMath.spotPrice(config.quoteAssetReserve, config.baseAssetReserve))
        );
        _grownTo = 1;
    }

    // ===================================================================================== trading

    /// @inheritdoc IAmm
    function swapInput(Dir dir, uint256 quoteAmount, uint256 baseAmountLimit, bool canOverFluctuationLimit)
        external
        override
        onlyClearingHouse
        returns (SwapResult memory result)
    {
        return _swapInput(dir, quoteAmount, baseAmountLimit, canOverFluctuationLimit);
    }

    /// @inheritdoc IAmm
    function swapInputGuarded(Dir dir, uint256 quoteAmount, uint256 baseAmountLimit)
        external
        override
        onlyClearingHouse
        returns (SwapResult memory)
    {
        priceFeed.checkGuarded(priceFeedKey);
        return _swapInput(dir, quoteAmount, baseAmountLimit, false);
    }

    function _swapInput(Dir dir, uint256 quoteAmount, uint256 baseAmountLimit, bool canOverFluctuationLimit)
        private
        returns (SwapResult memory result)
    {
        Slot0 memory s0 = _slot0.unpack();
        if (!s0.open) revert MarketClosed();
        (uint256 tradeLimit, uint256 fluctuationLimit) = _loadParams(result);
        if (quoteAmount == 0) {
            (result.quoteReserve, result.baseReserve) = (s0.quoteReserve, s0.baseReserve);
            return result;
        }
        bool isAdd = dir == Dir.ADD_TO_AMM;
        // removing: the limit first, so that more than the reserve fails with TradeLimitExceeded, not a panic
        if (!isAdd) _checkTradeLimit(quoteAmount, s0.quoteReserve, tradeLimit);
        uint256 baseAmount = PoolMath.getInputPrice(isAdd, quoteAmount, s0.quoteReserve, s0.baseReserve);
        if (isAdd) {
            _checkTradeLimit(baseAmount, s0.baseReserve, tradeLimit);
            if (baseAmountLimit != 0 && baseAmount < baseAmountLimit) {
                revert SlippageExceeded(baseAmount, baseAmountLimit);
            }
        } else {
            if (baseAmountLimit != 0 && baseAmount > baseAmountLimit) {
                revert SlippageExceeded(baseAmount, baseAmountLimit);
            }
        }
        result.amount = baseAmount;
        _updateReserves(s0, fluctuationLimit, isAdd, quoteAmount, baseAmount, canOverFluctuationLimit, result);
    }

    /// @inheritdoc IAmm
    function swapOutput(Dir dir, uint256 baseAmount, uint256 quoteAmountLimit, bool canOverFluctuationLimit)
        external
        override
        onlyClearingHouse
        returns (SwapResult memory result)
    {
        Slot0 memory s0 = _slot0.unpack();
        if (!s0.open) revert MarketClosed();
        (uint256 tradeLimit, uint256 fluctuationLimit) = _loadParams(result);
        if (baseAmount == 0) {
            (result.quoteReserve, result.baseReserve) = (s0.quoteReserve, s0.baseReserve);
            return result;
        }
        bool baseAdded = dir == Dir.ADD_TO_AMM;
        // removing base: the limit first (see swapInput)
        if (!baseAdded) _checkTradeLimit(baseAmount, s0.baseReserve, tradeLimit);
        uint256 quoteAmount = PoolMath.getOutputPrice(baseAdded, baseAmount, s0.quoteReserve, s0.baseReserve);
        if (baseAdded) {
            // closing a long: quote leaves the pool
            _checkTradeLimit(quoteAmount, s0.quoteReserve, tradeLimit);
            if (quoteAmountLimit != 0 && quoteAmount < quoteAmountLimit) {
                revert SlippageExceeded(quoteAmount, quoteAmountLimit);
            }
        } else {
            if (quoteAmountLimit != 0 && quoteAmount > quoteAmountLimit) {
                revert SlippageExceeded(quoteAmount, quoteAmountLimit);
            }
        }
        result.amount = quoteAmount;
        // the quote moves opposite to the base
        _updateReserves(s0, fluctuationLimit, !baseAdded, quoteAmount, baseAmount, canOverFluctuationLimit, result);
    }

    /// @inheritdoc IAmm
    function settleFunding()
        external
        override
        onlyClearingHouse
        returns (int256 premiumFraction, int256 totalPositionSize_)
    {
        Slot0 memory s0 = _slot0.unpack();
        if (!s0.open) revert MarketClosed();
        Funding memory f = _funding;
        uint256 nowTs = block.timestamp;
        if (nowTs < f.nextFundingTime) revert FundingTooEarly(nowTs, f.nextFundingTime);
        uint256 period = f.fundingPeriod;

        uint256 indexTwap = priceFeed.getTwapPrice(priceFeedKey, period);
        uint256 markTwap = _settleMarkTwap(s0);
        premiumFraction = (markTwap.toInt() - indexTwap.toInt()) * int256(period) / int256(ONE_DAY);
        if (f.maxFundingRate != 0) {
            int256 cap = indexTwap.mulWad(f.maxFundingRate).toInt();
            if (premiumFraction > cap) premiumFraction = cap;
            else if (premiumFraction < -cap) premiumFraction = -cap;
        }
        int256 rate = premiumFraction.divWad(indexTwap.toInt());

        // next = max(the hour boundary at or before nextFundingTime + period, now + period / 2) (v1's rule)
        uint256 onHour = (uint256(f.nextFundingTime) + period) / 1 hours * 1 hours;
        uint256 minNext = nowTs + period / 2;
        f.nextFundingTime = (onHour > minNext ? onHour : minNext).toUint32();
        f.fundingRate = rate.toInt128();
        _funding = f;
        emit FundingRateUpdated(rate, indexTwap);
        totalPositionSize_ = _totalPositionSize(s0.baseReserve);
    }

    /// @inheritdoc IAmm
    function resetReserves(uint256 quoteReserve, uint256 baseReserve)
        external
        override
        onlyClearingHouse
        returns (uint256 quoteAtBlockStart, uint256 baseAtBlockStart)
    {
        if (isShutdown) revert MarketClosed();
        Slot0 memory s0 = _slot0.unpack();
        if (quoteReserve == 0 || baseReserve == 0) revert ZeroReserve();
        uint256 pool = _packReserves(s0.quoteReserve, s0.baseReserve);
        uint256 blockStart = pool;
        if (s0.lastBlock == _blockNumber()) {
            // the pool already moved in this block: only as this transaction's own curve changes, with no
            // trade since (any trade moves the reserves away from what the last change left)
            if (_tload(T_CHANGE_LEFT) != pool) revert CurveChangeAfterTrade();
            blockStart = _tload(T_BLOCK_START);
        }
        uint256 price = PoolMath.spotPrice(quoteReserve, baseReserve);
        if (price > MAX_MARK) revert MarkOutOfRange(price, MAX_MARK);
        int256 size = _totalPositionSize(s0.baseReserve);
        _recordObservation(s0);
        s0.quoteReserve = _toReserve(quoteReserve);
        s0.baseReserve = _toBaseReserve(baseReserve);
        _slot0 = s0.pack();
        _baseAtZeroPosition = (baseReserve.toInt() + size).toUint256();
        initialQuoteAssetReserve = _quoteAtZeroPosition(quoteReserve, baseReserve, size);
        _tstore(T_CHANGE_LEFT, _packReserves(s0.quoteReserve, s0.baseReserve));
        _tstore(T_BLOCK_START, blockStart);
        emit ReservesReset(quoteReserve, baseReserve);
        (quoteAtBlockStart, baseAtBlockStart) = (blockStart & type(uint104).max, blockStart >> 104);
    }

    /// @inheritdoc IAmm
    function shutdown() external override {
        if (msg.sender != owner() && msg.sender != clearingHouse) revert OwnableUnauthorizedAccount(msg.sender);
        if (isShutdown) revert MarketClosed();
        Slot0 memory s0 = _slot0.unpack();
        int256 size = _totalPositionSize(s0.baseReserve);
        uint256 price;
        if (size.abs() > IGNORABLE_SIZE_FOR_SHUTDOWN) {
            uint256 init = initialQuoteAssetReserve;
            uint256 notional = init > s0.quoteReserve ? init - s0.quoteReserve : s0.quoteReserve - init;
            price = notional.divWad(size.abs());
        }
        _settlementPrice = price;
        isShutdown = true;
        _settlementWindowEnd = (uint256(_blockTimestamp()) + _settlementWindow).toUint32();
        _slot0 = _slot0.withOpen(false);
        emit Shutdown(price);
    }

    // ======================================================================================= owner

    /// @inheritdoc IAmm
    function setOpen(bool open_) external override onlyOwner {
        if (isShutdown) revert MarketClosed();
        PoolSlot slot0 = _slot0;
        if (slot0.open() == open_) return;
        _slot0 = slot0.withOpen(open_);
        if (open_) {
            uint256 period = _funding.fundingPeriod;
            uint256 next = (block.timestamp + period) / 1 hours * 1 hours;
            _funding.nextFundingTime = next.toUint32();
            // the first window is v1's for an on-time settlement, [next - period, next] (next - period <= now),
            // from the first observation on when the market is younger
            Slot0 memory s0 = _slot0.unpack();
            (uint144 cumulative, uint32 at) = _observations.cumulativeAt(
                s0.observationIndex, PoolMath.spotPrice(s0.quoteReserve, s0.baseReserve), next - period
            );
            _fundingWindow = MarkCheckpoint(at, cumulative);
        }
        emit OpenChanged(open_);
    }

    /// @inheritdoc IAmm
    function setRatios(uint256 tradeLimitRatio_, uint256 fluctuationLimitRatio_, uint256 tollRatio_, uint256 spreadRatio_)
        external
        override
        onlyOwner
    {
        _params = _setRatios(_params, tradeLimitRatio_, fluctuationLimitRatio_, tollRatio_, spreadRatio_);
    }

    /// @inheritdoc IAmm
    function setCap(uint256 maxHoldingBaseAsset_, uint256 openInterestNotionalCap_) external override onlyOwner {
        _params = _setCaps(_params, maxHoldingBaseAsset_, openInterestNotionalCap_);
    }

    /// @inheritdoc IAmm
    function setMaxFundingRate(uint256 maxFundingRate_) external override onlyOwner {
        _setMaxFundingRate(maxFundingRate_);
    }

    /// @inheritdoc IAmm
    function setSettlementWindow(uint256 window) external override onlyOwner {
        if (isShutdown) revert MarketClosed();
        if (window < MIN_SETTLEMENT_WINDOW || window > MAX_SETTLEMENT_WINDOW) {
            revert SettlementWindowOutOfRange(window, MIN_SETTLEMENT_WINDOW, MAX_SETTLEMENT_WINDOW);
        }
        _settlementWindow = uint32(window);
        emit SettlementWindowChanged(window);
    }

    /// @inheritdoc IAmm
    function growObservations(uint256 count) external override {
        uint256 from = _grownTo;
        uint256 to = from + count;
        if (to > MarkTwap.CAPACITY) to = MarkTwap.CAPACITY;
        _observations.grow(from, to);
        _grownTo = to;
    }

    // ======================================================================================= views

    /// @inheritdoc IAmm
    function getInputPrice(Dir dir, uint256 quoteAmount) external view override returns (uint256) {
        Slot0 memory s0 = _slot0.unpack();
        return PoolMath.getInputPrice(dir == Dir.ADD_TO_AMM, quoteAmount, s0.quoteReserve, s0.baseReserve);
    }

    /// @inheritdoc IAmm
    function getOutputPrice(Dir dir, uint256 baseAmount) external view override returns (uint256) {
        Slot0 memory s0 = _slot0.unpack();
        return PoolMath.getOutputPrice(dir == Dir.ADD_TO_AMM, baseAmount, s0.quoteReserve, s0.baseReserve);
    }

    /// @inheritdoc IAmm
    function getSpotPrice() public view override returns (uint256) {
        Slot0 memory s0 = _slot0.unpack();
        return PoolMath.spotPrice(s0.quoteReserve, s0.baseReserve);
    }

    /// @inheritdoc IAmm
    function getTwapPrice(uint256 interval) public view override returns (uint256) {
        Slot0 memory s0 = _slot0.unpack();
        return _observations.twap(
            s0.observationIndex, _blockTimestamp(), PoolMath.spotPrice(s0.quoteReserve, s0.baseReserve), interval
        );
    }

    /// @inheritdoc IAmm
    function fundingWindowStart() external view override returns (uint256) {
        return _fundingWindow.timestamp;
    }

    /// @inheritdoc IAmm
    function getUnderlyingPrice() public view override returns (uint256) {
        return priceFeed.getPrice(priceFeedKey);
    }

    /// @inheritdoc IAmm
    function getGuardedUnderlyingPrice() external view override returns (uint256) {
        return priceFeed.getGuardedPrice(priceFeedKey);
    }

    /// @inheritdoc IAmm
    function getUnderlyingTwapPrice(uint256 interval) external view override returns (uint256) {
        return priceFeed.getTwapPrice(priceFeedKey, interval);
    }

    /// @inheritdoc IAmm
    function getReserve() external view override returns (uint256, uint256) {
        Slot0 memory s0 = _slot0.unpack();
        return (s0.quoteReserve, s0.baseReserve);
    }

    /// @inheritdoc IAmm
    function getTradingState() external view override returns (SwapResult memory result) {
        Slot0 memory s0 = _slot0.unpack();
        if (!s0.open) revert MarketClosed();
        _loadParams(result);
        (result.quoteReserve, result.baseReserve) = (s0.quoteReserve, s0.baseReserve);
    }

    /// @inheritdoc IAmm
    function isOverFluctuationLimit(Dir dir, uint256 baseAmount) external view override returns (bool) {
        uint256 limitRatio = _params.fluctuationLimitRatio();
        if (limitRatio == 0) return false;
        Slot0 memory s0 = _slot0.unpack();
        uint256 refPrice = _referencePrice(s0);
        bool baseAdded = dir == Dir.ADD_TO_AMM;
        uint256 quoteAmount = PoolMath.getOutputPrice(baseAdded, baseAmount, s0.quoteReserve, s0.baseReserve);
        uint256 price = baseAdded
            ? (uint256(s0.quoteReserve) - quoteAmount).divWad(uint256(s0.baseReserve) + baseAmount)
            : (uint256(s0.quoteReserve) + quoteAmount).divWad(uint256(s0.baseReserve) - baseAmount);
        return price > refPrice.mulWad(1e18 + limitRatio) || price < refPrice.mulWad(1e18 - limitRatio);
    }

    /// @inheritdoc IAmm
    function isOverSpreadLimit() external view override returns (bool) {
        uint256 oracle = getUnderlyingPrice();
        uint256 spot = getSpotPrice();
        uint256 diff = spot > oracle ? spot - oracle : oracle - spot;
        return diff.divWad(oracle) >= ORACLE_SPREAD_LIMIT;
    }

    /// @inheritdoc IAmm
    function calcFee(uint256 quoteAmount) external view override returns (uint256, uint256) {
        TradingParams p = _params;
        return (quoteAmount.mulWad(p.tollRatio()), quoteAmount.mulWad(p.spreadRatio()));
    }

    /// @inheritdoc IAmm
    function totalPositionSize() external view override returns (int256) {
        return _totalPositionSize(_slot0.baseReserve());
    }

    /// @inheritdoc IAmm
    function getBaseAssetDelta() external view override returns (int256) {
        return _totalPositionSize(_slot0.baseReserve());
    }

    /// @inheritdoc IAmm
    function getSettlementPrice() external view override returns (uint256) {
        return _settlementPrice;
    }

    /// @inheritdoc IAmm
    function settlementWindow() external view override returns (uint256) {
        return _settlementWindow;
    }

    /// @inheritdoc IAmm
    function settlementWindowEnd() external view override returns (uint256) {
        return _settlementWindowEnd;
    }

    function quoteAssetReserve() external view override returns (uint256) {
        return _slot0.quoteReserve();
    }

    function baseAssetReserve() external view override returns (uint256) {
        return _slot0.baseReserve();
    }

    function open() external view override returns (bool) {
        return _slot0.open();
    }

    function tradeLimitRatio() external view override returns (uint256) {
        return _params.tradeLimitRatio();
    }

    function fluctuationLimitRatio() external view override returns (uint256) {
        return _params.fluctuationLimitRatio();
    }

    function tollRatio() external view override returns (uint256) {
        return _params.tollRatio();
    }

    function spreadRatio() external view override returns (uint256) {
        return _params.spreadRatio();
    }

    function maxHoldingBaseAsset() external view override returns (uint256) {
        return _params.maxHoldingBaseAsset();
    }

    function openInterestNotionalCap() external view override returns (uint256) {
        return _params.openInterestNotionalCap();
    }

    function fundingPeriod() external view override returns (uint256) {
        return _funding.fundingPeriod;
    }

    function nextFundingTime() external view override returns (uint256) {
        return _funding.nextFundingTime;
    }

    function fundingRate() external view override returns (int256) {
        return _funding.fundingRate;
    }

    function maxFundingRate() external view override returns (uint256) {
        return _funding.maxFundingRate;
    }

    // ==================================================================================== internal

    /// @dev Applies a swap: checks the fluctuation limit against the price at the start of the block,
    ///      records the block's observation and writes the reserves. `quoteAdded`: quote enters the pool.
    function _updateReserves(
        Slot0 memory s0,
        uint256 fluctuationLimitRatio,
        bool quoteAdded,
        uint256 quoteAmount,
        uint256 baseAmount,
        bool canOverFluctuationLimit,
        SwapResult memory result
    ) private {
        uint256 quoteAfter = quoteAdded ? uint256(s0.quoteReserve) + quoteAmount : uint256(s0.quoteReserve) - quoteAmount;
        uint256 baseAfter = quoteAdded ? uint256(s0.baseReserve) - baseAmount : uint256(s0.baseReserve) + baseAmount;
        uint256 priceBefore = PoolMath.spotPrice(s0.quoteReserve, s0.baseReserve);
        uint256 priceAfter = PoolMath.spotPrice(quoteAfter, baseAfter);
        // a mark the next block's observation could not record would freeze the market for good
        if (priceAfter > MAX_MARK) revert MarkOutOfRange(priceAfter, MAX_MARK);
        uint32 blockNumber = _blockNumber();
        bool newBlock = s0.lastBlock != blockNumber;
        if (fluctuationLimitRatio != 0) {
            uint256 limitRatio = fluctuationLimitRatio;
            // the reference: the price at the start of the current block
            uint256 refPrice = newBlock ? priceBefore : _observations.blockStartPrice(s0.observationIndex);
            uint256 upper = refPrice.mulWad(1e18 + limitRatio);
            uint256 lower = refPrice.mulWad(1e18 - limitRatio);
            // the block may already have crossed the limit once: then it is frozen
            if (priceBefore > upper || priceBefore < lower) revert FluctuationLimitExceeded(priceBefore, lower, upper);
            if (!canOverFluctuationLimit) {
                if (priceAfter > upper || priceAfter < lower) revert FluctuationLimitExceeded(priceAfter, lower, upper);
            }
        }
        if (newBlock) _writeObservation(s0, priceBefore, blockNumber);
        if (quoteAfter > type(uint104).max || baseAfter > type(uint96).max) revert ReserveOverflow();
        // checked just above; the swap only runs on an open market
        _slot0 = PoolSlotLibrary.pack(uint104(quoteAfter), uint96(baseAfter), s0.lastBlock, s0.observationIndex, true);
        (result.quoteReserve, result.baseReserve) = (quoteAfter, baseAfter);
    }

    /// @dev Starts a new block in the accumulator if this is the first change in it (mutates `s0`).
    function _recordObservation(Slot0 memory s0) private {
        uint32 blockNumber = _blockNumber();
        if (s0.lastBlock == blockNumber) return;
        _writeObservation(s0, PoolMath.spotPrice(s0.quoteReserve, s0.baseReserve), blockNumber);
    }

    /// @dev Writes the observation that starts block `blockNumber` (the current one, `_blockNumber()`); `price` has
    ///      been in force since the last one.
    function _writeObservation(Slot0 memory s0, uint256 price, uint32 blockNumber) private {
        s0.observationIndex = _observations.write(s0.observationIndex, _blockTimestamp(), _toPrice(price));
        s0.lastBlock = blockNumber;
    }

    /// @dev The mark TWAP over the funding window, [its start, now], exact whatever the number of trades in it
    ///      (two reads: the newest observation and the window's start); starts the next window now.
    function _settleMarkTwap(Slot0 memory s0) private returns (uint256 markTwap) {
        uint32 nowTs = _blockTimestamp();
        uint256 spot = PoolMath.spotPrice(s0.quoteReserve, s0.baseReserve);
        uint144 cumulative = _observations.cumulativeNow(s0.observationIndex, nowTs, spot);
        MarkCheckpoint memory start = _fundingWindow;
        unchecked {
            // the window starts at the opening or the last settlement, both before now (nextFundingTime > them)
            uint256 elapsed = nowTs - start.timestamp;
            markTwap = elapsed == 0 ? spot : uint256(uint144(cumulative - start.cumulative)) / elapsed;
        }
        _fundingWindow = MarkCheckpoint(nowTs, cumulative);
    }

    /// @dev The fluctuation reference: the price at the start of the current block.
    function _referencePrice(Slot0 memory s0) private view returns (uint256) {
        if (s0.lastBlock == _blockNumber()) return _observations.blockStartPrice(s0.observationIndex);
        return PoolMath.spotPrice(s0.quoteReserve, s0.baseReserve);
    }

    /// @dev Reads the trading parameters' word once: fills the fee ratios and caps of `result` and returns the
    ///      trade and fluctuation limit ratios, all in wad.
    function _loadParams(SwapResult memory result) private view returns (uint256 tradeLimit, uint256 fluctuationLimit) {
        TradingParams p = _params;
        (tradeLimit, fluctuationLimit) = (p.tradeLimitRatio(), p.fluctuationLimitRatio());
        (result.tollRatio, result.spreadRatio) = (p.tollRatio(), p.spreadRatio());
        (result.maxHoldingBaseAsset, result.openInterestNotionalCap) = (p.maxHoldingBaseAsset(), p.openInterestNotionalCap());
    }

    function _totalPositionSize(uint256 baseReserve) private view returns (int256) {
        return _baseAtZeroPosition.toInt() - baseReserve.toInt();
    }

    function _checkTradeLimit(uint256 amount, uint256 reserve, uint256 ratio) private pure {
        uint256 limit;
        unchecked {
            // reserve < 2^104 and ratio <= 1e18 < 2^60 (wad): the product is below 2^164
            limit = reserve * ratio / 1e18;
        }
        if (amount > limit) revert TradeLimitExceeded(amount, limit);
    }

    /// @dev The quote reserve the curve would hold with every position closed (v1's shutdown base).
    function _quoteAtZeroPosition(uint256 quote, uint256 base, int256 netSize) private pure returns (uint256) {
        uint256 k = quote.mulWad(base);
        return k.divWad((base.toInt() + netSize).toUint256());
    }

    function _setRatios(TradingParams p, uint256 tradeLimit, uint256 fluctuation, uint256 toll, uint256 spread)
        private
        returns (TradingParams)
    {
        if (tradeLimit == 0) revert ZeroTradeLimit();
        p = p.withRatios(_toRatio(tradeLimit), _toRatio(fluctuation), _toRatio(toll), _toRatio(spread));
        emit ParametersChanged(tradeLimit, fluctuation, toll, spread);
        return p;
    }

    function _setCaps(TradingParams p, uint256 maxHolding, uint256 oiCap) private returns (TradingParams) {
        p = p.withCaps(_toCap(maxHolding), _toCap(oiCap));
        emit CapChanged(maxHolding, oiCap);
        return p;
    }

    function _toRatio(uint256 ratio) private pure returns (uint40) {
        if (ratio > 1e18) revert RatioAboveOne(ratio);
        if (ratio % RATIO_UNIT != 0) revert RatioNotInUnits(ratio, RATIO_UNIT);
        return uint40(ratio / RATIO_UNIT);
    }

    function _toCap(uint256 cap) private pure returns (uint48) {
        if (cap % CAP_UNIT != 0) revert CapNotInUnits(cap, CAP_UNIT);
        if (cap / CAP_UNIT > type(uint48).max) revert CapTooLarge(cap, uint256(type(uint48).max) * CAP_UNIT);
        return uint48(cap / CAP_UNIT);
    }

    function _setMaxFundingRate(uint256 rate) private {
        if (rate > 1e18) revert RatioAboveOne(rate);
        _funding.maxFundingRate = uint64(rate);
    }

    function _toReserve(uint256 x) private pure returns (uint104) {
        if (x > type(uint104).max) revert ReserveOverflow();
        return uint104(x);
    }

    function _toBaseReserve(uint256 x) private pure returns (uint96) {
        if (x > type(uint96).max) revert ReserveOverflow();
        return uint96(x);
    }

    /// @dev A mark as an observation records it (80 bits).
    function _toPrice(uint256 price) private pure returns (uint80) {
        if (price > MAX_MARK) revert MarkOutOfRange(price, MAX_MARK);
        return uint80(price);
    }

    /// @dev Both reserves in one word (quote in bits 0-103, base above): never zero for a live pool.
    function _packReserves(uint256 quote, uint256 base) private pure returns (uint256) {
        return quote | (base << 104);
    }

    /// @dev Leaf EIP-1153 access (OpenZeppelin's `TransientSlot` does the same). In plain Solidity: a
    ///      `uint256 transient` state variable, which the pinned static analysis cannot parse yet.
    function _tload(bytes32 slot) private view returns (uint256 value) {
        assembly ("memory-safe") {
            value := tload(slot)
        }
    }

    /// @dev See `_tload`.
    function _tstore(bytes32 slot, uint256 value) private {
        assembly ("memory-safe") {
            tstore(slot, value)
        }
    }

    function _blockTimestamp() internal view virtual returns (uint32) {
        return uint32(block.timestamp);
    }

    /// @dev The chain's own block number (the L2 block on Arbitrum, `ChainBlock`) truncated to 32 bits (compared
    ///      for equality only; wraps after 2^32 blocks).
    function _blockNumber() internal view virtual returns (uint32) {
        return uint32(ChainBlock.number(_onArbitrum));
    }
}
