// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPriceFeed} from "./IPriceFeed.sol";

/// @title A virtual constant-product market (one per perpetual, e.g. ETH/USD)
/// @notice Stores two numbers, `quoteAssetReserve * baseAssetReserve = k`, and no tokens. Every amount
///         and price is an 18-decimal fixed-point number (wad). Only the ClearingHouse trades on it.
interface IAmm {
    /// @notice Direction of an asset relative to the pool.
    enum Dir {
        ADD_TO_AMM,
        REMOVE_FROM_AMM
    }

    /// @notice What a swap did, with everything the ClearingHouse needs afterwards (one call).
    /// @param amount base received/given (swapInput) or quote received/paid (swapOutput), wad
    /// @param quoteReserve pool after the swap
    /// @param baseReserve pool after the swap
    struct SwapResult {
        uint256 amount;
        uint256 quoteReserve;
        uint256 baseReserve;
        uint256 tollRatio;
        uint256 spreadRatio;
        uint256 maxHoldingBaseAsset;
        uint256 openInterestNotionalCap;
    }

    // ----------------------------------------------------------------------------------------- errors
    /// @dev The caller is not the ClearingHouse this market was deployed for.
    error OnlyClearingHouse(address caller);
    /// @dev The market is not open for trading (never opened, paused by `setOpen(false)`, or shut down).
    error MarketClosed();
    /// @dev The market is still open (settlement needs a shutdown market).
    error MarketStillOpen();
    /// @dev The trade would move more than `tradeLimitRatio` of a reserve (`amount` > `limit`); also any
    ///      pricing (a trade, a view, a position's value) that would remove a whole reserve (`limit` = the reserve).
    error TradeLimitExceeded(uint256 amount, uint256 limit);
    /// @dev Slippage: a long got less base than asked, a short would give more base than allowed, or a
    ///      close got a quote amount beyond `limit`.
    error SlippageExceeded(uint256 amount, uint256 limit);
    /// @dev The price after the trade (or already before it) is outside ± fluctuationLimitRatio of the
    ///      price at the start of the block.
    error FluctuationLimitExceeded(uint256 price, uint256 lowerLimit, uint256 upperLimit);
    /// @dev `settleFunding` before `nextFundingTime`.
    error FundingTooEarly(uint256 nowTs, uint256 nextFundingTime);
    /// @dev A required address (the price feed, the ClearingHouse) is zero.
    error ZeroAddress();
    /// @dev A reserve of zero (at deployment or in a curve change): the pool would have no price.
    error ZeroReserve();
    /// @dev A funding period of zero seconds.
    error ZeroFundingPeriod();
    /// @dev A trade limit ratio of zero: no trade could pass.
    error ZeroTradeLimit();
    /// @dev A ratio (trade limit, fluctuation limit, toll, spread, max funding rate) above 1 (1e18).
    error RatioAboveOne(uint256 ratio);
    /// @dev Ratios are stored in units of `unit` wei (1e-12): `ratio` is not a multiple of it.
    error RatioNotInUnits(uint256 ratio, uint256 unit);
    /// @dev Caps are stored in units of `unit` wei (1e-3 of a base or quote unit): `cap` is not a multiple of it.
    error CapNotInUnits(uint256 cap, uint256 unit);
    /// @dev A cap above `maxCap` (wad), the most its storage field holds.
    error CapTooLarge(uint256 cap, uint256 maxCap);
    /// @dev A settlement window (seconds) outside [`minWindow`, `maxWindow`].
    error SettlementWindowOutOfRange(uint256 window, uint256 minWindow, uint256 maxWindow);
    /// @dev A quote reserve above 2^104 or a base reserve above 2^96 (wad): outside the packed storage's range.
    error ReserveOverflow();
    /// @dev The trade, curve change or initial pool would leave a mark `price` above `maxPrice` (2^80 - 1 wad,
    ///      about 1.2 million quote per base), the most the price observations can record: a pool at such a price
    ///      could not start its next block, and every later trade, liquidation and curve change would revert.
    error MarkOutOfRange(uint256 price, uint256 maxPrice);
    /// @dev A curve change (adjustK, repeg, the liquidity controller's update) after the market already traded
    ///      in this block (or changed its curve in an earlier transaction of it): a trade before a curve change in
    ///      the same block could be closed after it, and profit from it. Retry in a later block, before any trade.
    error CurveChangeAfterTrade();

    // ----------------------------------------------------------------------------------------- events
    /// @notice A funding period was settled. `rate` = premiumFraction / indexTwap (wad, signed);
    ///         `underlyingPrice` = the index TWAP used.
    event FundingRateUpdated(int256 rate, uint256 underlyingPrice);
    /// @notice Parameters changed by the owner.
    event ParametersChanged(
        uint256 tradeLimitRatio, uint256 fluctuationLimitRatio, uint256 tollRatio, uint256 spreadRatio
    );
    /// @notice Position caps changed by the owner (0 = no cap).
    event CapChanged(uint256 maxHoldingBaseAsset, uint256 openInterestNotionalCap);
    /// @notice The market opened for trading or closed (without settlement).
    event OpenChanged(bool open);
    /// @notice The market shut down for good at `settlementPrice`.
    event Shutdown(uint256 settlementPrice);
    /// @notice The reserves were rescaled or re-priced by the ClearingHouse (k adjustment or repeg).
    event ReservesReset(uint256 quoteReserve, uint256 baseReserve);
    /// @notice The settlement claim window a shutdown will open changed (seconds).
    event SettlementWindowChanged(uint256 window);

    // ------------------------------------------------------------------------------------ trading (CH)
    /// @notice Adds (long) or removes (short) `quoteAmount` of quote; returns the base received/given.
    /// @param dir ADD_TO_AMM for a long, REMOVE_FROM_AMM for a short
    /// @param quoteAmount wad
    /// @param baseAmountLimit minimum base for a long, maximum for a short; 0 = none
    /// @param canOverFluctuationLimit true for closes and liquidations: may cross the limit once per block
    /// @return result `amount` = base, wad, with v1's rounding against the trader
    function swapInput(Dir dir, uint256 quoteAmount, uint256 baseAmountLimit, bool canOverFluctuationLimit)
        external
        returns (SwapResult memory result);

    /// @notice `swapInput` for a new or larger position (never crossing the fluctuation limit), after the price
    ///         feed's guarded check of this market's index (`IPriceFeed.checkGuarded`: not stale or bad, the sequencer up
    ///         and past its grace period), in one call.
    function swapInputGuarded(Dir dir, uint256 quoteAmount, uint256 baseAmountLimit)
        external
        returns (SwapResult memory result);

    /// @notice Adds (closing a long) or removes (closing a short) `baseAmount` of base; returns the quote.
    /// @param quoteAmountLimit minimum quote when adding base, maximum when removing; 0 = none
    /// @return result `amount` = quote, wad, with v1's rounding against the trader
    function swapOutput(Dir dir, uint256 baseAmount, uint256 quoteAmountLimit, bool canOverFluctuationLimit)
        external
        returns (SwapResult memory result);

    /// @notice Settles a funding period: premium = markTwap − indexTwap. The mark TWAP is exact over the funding
    ///         window, from its start (`fundingWindowStart`: the last settlement, or the opening) to now, whatever
    ///         the number of trades in it; the index TWAP spans the last `fundingPeriod`. Starts the next window.
    /// @dev Only the ClearingHouse, once `block.timestamp >= nextFundingTime`.
    /// @return premiumFraction premium × fundingPeriod / 1 day, clamped by maxFundingRate (wad, signed)
    /// @return totalPositionSize net base position of all traders (wad, signed)
    function settleFunding() external returns (int256 premiumFraction, int256 totalPositionSize);

    /// @notice Replaces both reserves (k adjustment or repeg); the ClearingHouse books the cost.
    /// @dev Refused (`CurveChangeAfterTrade`) once the pool has moved in this block other than by this
    ///      transaction's own curve changes: every trade of a block comes after all of its curve changes.
    /// @return quoteAtBlockStart the quote reserve before this block's first curve change
    /// @return baseAtBlockStart the base reserve before it (the ClearingHouse bounds the block's whole move)
    function resetReserves(uint256 quoteReserve, uint256 baseReserve)
        external
        returns (uint256 quoteAtBlockStart, uint256 baseAtBlockStart);

    /// @notice Closes the market for good at v1's settlement price and opens the settlement claim window
    ///         (`settlementWindow` seconds from now, see `ClearingHouse.settlePosition`). Owner or ClearingHouse.
    function shutdown() external;

    // ------------------------------------------------------------------------------------------ views
    /// @notice Base amount for adding/removing `quoteAmount` of quote at the current reserves (wad).
    function getInputPrice(Dir dir, uint256 quoteAmount) external view returns (uint256);
    /// @notice Quote amount for adding/removing `baseAmount` of base at the current reserves (wad).
    function getOutputPrice(Dir dir, uint256 baseAmount) external view returns (uint256);
    /// @notice quoteAssetReserve / baseAssetReserve, rounded down (wad).
    function getSpotPrice() external view returns (uint256);
    /// @notice Mark-price TWAP over the last `interval` seconds (wad), exact: over the whole history when the
    ///         market is younger than `interval`; `MarkTwap.TwapUnavailable` when the observation ring (4,096
    ///         trading seconds at least) no longer reaches back that far. Cost logarithmic in the trading seconds
    ///         inside the window.
    function getTwapPrice(uint256 interval) external view returns (uint256);
    /// @notice Start (timestamp) of the current funding window: the last funding settlement, or, after the market
    ///         opened, `nextFundingTime − fundingPeriod` (v1's window for an on-time first settlement) or the
    ///         market's first observation if later.
    function fundingWindowStart() external view returns (uint256);
    /// @notice Index price from the price feed (wad).
    function getUnderlyingPrice() external view returns (uint256);
    /// @notice Index price from the price feed's `getGuardedPrice` (wad): refused also while the L2 sequencer is down
    ///         or in its grace period. Read before a position is opened, increased or liquidated.
    function getGuardedUnderlyingPrice() external view returns (uint256);
    /// @notice Index TWAP from the price feed (wad).
    function getUnderlyingTwapPrice(uint256 interval) external view returns (uint256);
    /// @notice (quoteAssetReserve, baseAssetReserve) in wad.
    function getReserve() external view returns (uint256 quoteReserve, uint256 baseReserve);
    /// @notice Everything the ClearingHouse needs for a trade, in one call. Reverts `MarketClosed` when the market is
    ///         not open (paused or shut down): a trade or liquidation refuses a closed market before anything else.
    function getTradingState() external view returns (SwapResult memory state);
    /// @notice Whether closing `baseAmount` in `dir` would cross the fluctuation limit.
    function isOverFluctuationLimit(Dir dir, uint256 baseAmount) external view returns (bool);
    /// @notice Whether |spot − index| / index >= 10 % (v1's oracle spread limit).
    function isOverSpreadLimit() external view returns (bool);
    /// @notice (toll, spread) for a trade of `quoteAmount` notional (wad).
    function calcFee(uint256 quoteAmount) external view returns (uint256 toll, uint256 spread);
    /// @notice Net base position of all traders (long positive), wad.
    function totalPositionSize() external view returns (int256);
    /// @notice Net base position of all traders; v1's name.
    function getBaseAssetDelta() external view returns (int256);
    /// @notice v1's settlement price once shut down (wad); 0 = everyone takes back their margin.
    function getSettlementPrice() external view returns (uint256);
    /// @notice The claim window a shutdown opens (seconds; 3 days unless the owner set another, 1 h - 30 days).
    function settlementWindow() external view returns (uint256);
    /// @notice When the settlement claim window closes (unix seconds; fixed at the shutdown); 0 before a shutdown.
    function settlementWindowEnd() external view returns (uint256);

    /// @notice The quote reserve (wad).
    function quoteAssetReserve() external view returns (uint256);
    /// @notice The base reserve (wad).
    function baseAssetReserve() external view returns (uint256);
    /// @notice Whether trading is open (false before `setOpen(true)`, when paused by the owner, and after a shutdown).
    function open() external view returns (bool);
    /// @notice Whether the market was shut down (for good: only settlement remains).
    function isShutdown() external view returns (bool);
    /// @notice The most of a reserve one trade may move (wad ratio).
    function tradeLimitRatio() external view returns (uint256);
    /// @notice How far (wad ratio) a trade may move the price from the block's start; 0 = off.
    function fluctuationLimitRatio() external view returns (uint256);
    /// @notice The toll charged on a trade's notional (wad ratio), paid to the fee pool.
    function tollRatio() external view returns (uint256);
    /// @notice The spread charged on a trade's notional (wad ratio), paid to the InsuranceFund.
    function spreadRatio() external view returns (uint256);
    /// @notice The most base one trader may hold (wad); 0 = no cap.
    function maxHoldingBaseAsset() external view returns (uint256);
    /// @notice The most open interest notional (quote, wad) the market accepts; 0 = no cap.
    function openInterestNotionalCap() external view returns (uint256);
    /// @notice The funding period (seconds).
    function fundingPeriod() external view returns (uint256);
    /// @notice When `settleFunding` is next allowed (unix seconds).
    function nextFundingTime() external view returns (uint256);
    /// @notice The last funding rate: the premium fraction over the index TWAP (wad, signed; > 0: longs paid).
    function fundingRate() external view returns (int256);
    /// @notice The cap on the funding rate per period (wad); 0 = off.
    function maxFundingRate() external view returns (uint256);
    /// @notice The index price feed (immutable).
    function priceFeed() external view returns (IPriceFeed);
    /// @notice This market's key in the price feed (immutable).
    function priceFeedKey() external view returns (bytes32);
    /// @notice The only contract that may trade on this market (immutable).
    function clearingHouse() external view returns (address);
    /// @notice The quote reserve with no open position (wad): v1's settlement reference.
    function initialQuoteAssetReserve() external view returns (uint256);

    // ------------------------------------------------------------------------------------------ owner
    /// @notice Opens or closes trading (refused after a shutdown: `MarketClosed`). Opening starts the funding clock
    ///         on v1's on-the-hour rule: the first settlement is due at the first hour boundary a period away.
    function setOpen(bool open_) external;
    /// @notice Sets the trading ratios, each a wad <= 1e18 (`RatioAboveOne`) and a multiple of 1e6
    ///         (`RatioNotInUnits`); the trade limit may not be 0 (`ZeroTradeLimit`), a fluctuation limit of 0 is off.
    function setRatios(uint256 tradeLimitRatio_, uint256 fluctuationLimitRatio_, uint256 tollRatio_, uint256 spreadRatio_)
        external;
    /// @notice Sets the per-trader holding cap (base, wad) and the open-interest cap (quote, wad): multiples of 1e15
    ///         (`CapNotInUnits`) below 2^48 × 1e15 (`CapTooLarge`); 0 = none.
    function setCap(uint256 maxHoldingBaseAsset_, uint256 openInterestNotionalCap_) external;
    /// @notice Sets the cap on the funding rate per period (wad, <= 1e18; 0 = off), applied in both funding modes.
    function setMaxFundingRate(uint256 maxFundingRate_) external;
    /// @notice Sets the settlement claim window a shutdown will open (seconds, 1 hour to 30 days:
    ///         `SettlementWindowOutOfRange`; 3 days by default). Refused once shut down (`MarketClosed`).
    function setSettlementWindow(uint256 window) external;

    // --------------------------------------------------------------------------------------- anyone
    /// @notice Pre-writes up to `count` more observation slots (of 1,024) so that no trade pays for a fresh slot.
    function growObservations(uint256 count) external;
}
