// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAmm} from "./IAmm.sol";
import {IVault} from "./IVault.sol";

/// @title ClearingHouse types, errors and events (shared by the ClearingHouse and its risk module)
/// @notice Traders act here; collateral stays in the Vault, where a position's margin is taken from and
///         returned to the trader's free balance. Every amount, price and ratio is a wad (18 decimals);
///         sizes, PnL and funding are signed, long positive.
interface IClearingHouseTypes {
    enum Side {
        BUY,
        SELL
    }

    enum PnlCalcOption {
        SPOT_PRICE,
        TWAP,
        ORACLE
    }

    /// @notice A trader's position in one market.
    struct Position {
        int256 size;
        uint256 margin;
        uint256 openNotional;
        int256 lastUpdatedCumulativePremiumFraction;
    }

    /// @notice The settlement of a shut-down market (see `settlePosition`). Amounts in wad.
    /// @param windowEnd when the claim window closes (unix seconds; 0: the market is not shut down)
    /// @param totalClaims the sum of the claims registered in the window
    /// @param available what the registered claims share: fixed when the first payout after the window finalizes
    ///        the settlement (the market's collateral, plus what the InsuranceFund paid in when that was short,
    ///        at most `totalClaims`); before that, what it would be now (claims may still come)
    /// @param paid paid out to registered claims so far
    /// @param unpaidClaims registered claims not paid yet
    /// @param finalized whether `available` is fixed
    struct Settlement {
        uint256 windowEnd;
        uint256 totalClaims;
        uint256 available;
        uint256 paid;
        uint256 unpaidClaims;
        bool finalized;
    }

    /// @notice A market's funding (`getFunding`). Sizes wad.
    struct FundingState {
        int256 cumulativeLong; // what longs read
        int256 cumulativeShort; // what shorts read (differs after receivers were paid less)
        uint256 longSize; // Σ long sizes
        uint256 shortSize; // Σ |short sizes|
    }

    // ----------------------------------------------------------------------------------------- errors
    /// @dev An amount or leverage of zero.
    error ZeroAmount();
    /// @dev 1 / leverage is below the initial margin ratio.
    error LeverageTooHigh(uint256 leverage, uint256 maxLeverage);
    /// @dev After the trade the margin ratio `current` would be below `required`.
    error MarginRatioTooLow(int256 current, uint256 required);
    /// @dev The position (or the part being closed) is under water by `badDebt`; close or get liquidated.
    error BadDebt(uint256 badDebt);
    /// @dev Removing margin would leave negative free collateral.
    error NotEnoughFreeCollateral(int256 freeCollateral);
    /// @dev There is no position in this market.
    error NoPosition();
    /// @dev The position is above the maintenance margin ratio and cannot be liquidated.
    error MarginRatioHealthy(int256 current, uint256 maintenance);
    /// @dev Restriction mode: after a liquidation in this block, a trader who already acted in it cannot act again.
    error RestrictionMode();
    /// @dev The market is not listed on this ClearingHouse.
    error UnknownMarket(address amm);
    /// @dev The market is already listed.
    error MarketAlreadyListed(address amm);
    /// @dev The market has not been shut down; positions cannot be settled yet.
    error MarketNotShutdown();
    /// @dev The position would exceed the market's per-trader holding cap.
    error PositionHoldingCapExceeded(uint256 size, uint256 cap);
    /// @dev The market's open interest would exceed its cap.
    error OpenInterestCapExceeded(uint256 openInterest, uint256 cap);
    /// @dev A reduce that would leave a non-positive open notional (v1's guard).
    error InvalidOpenNotional();
    /// @dev A required address (the Vault, the InsuranceFund) is zero.
    error ZeroAddress();
    /// @dev The risk module was built for another Vault or InsuranceFund than this ClearingHouse.
    error RiskModuleMismatch(address module);
    /// @dev `addAmm`: the Amm names another ClearingHouse (`itsClearingHouse`) as the only one that may trade on it.
    error AmmOfAnotherClearingHouse(address amm, address itsClearingHouse);
    /// @dev The initial margin ratio must be above 0 and at most 1 (1e18).
    error InitMarginRatioOutOfRange(uint256 initMarginRatio);
    /// @dev The maintenance margin ratio may not exceed the initial margin ratio (a position could be opened
    ///      already liquidatable).
    error MaintenanceAboveInitial(uint256 maintenanceMarginRatio, uint256 initMarginRatio);
    /// @dev A ratio (the liquidation fee or partial-liquidation ratio) above 1 (1e18).
    error RatioAboveOne(uint256 ratio);
    /// @dev A margin parameter is stored in units of `unit` wei: `ratio` is not a multiple of it.
    error RatioNotInUnits(uint256 ratio, uint256 unit);
    /// @dev `adjustK` by a factor of zero (it would empty the pool).
    error ZeroKFactor();
    /// @dev `repeg` to a price of zero.
    error ZeroPrice();
    /// @dev The InsuranceFund would have to pay `cost` (wad: a curve change, or the part of a payout the
    ///      market's collateral does not hold) but can pay only `available`: the action is refused.
    error InsuranceFundInsufficient(uint256 cost, uint256 available);
    /// @dev The market was shut down: only `settlePosition` acts on it.
    error MarketClosed();
    /// @dev Trading is paused (OpenZeppelin Pausable's name).
    error EnforcedPause();
    /// @dev A quote amount outside the slippage limit on a close.
    error SlippageExceeded(uint256 amount, uint256 limit);
    /// @dev Settlement: the claim window is open until `windowEnd` (unix seconds): the claim is already
    ///      registered, or a payout was asked before the window closed.
    error SettlementWindowOpen(uint256 windowEnd);
    /// @dev Settlement: the trader has no claim registered and unpaid (a position not registered in the window
    ///      is settled by its trader with `settlePosition`).
    error NothingToSettle();
    /// @dev A curve change would cost the InsuranceFund `cost` (wad, signed), more than the caller's `maxCost`
    ///      (typically: the net position grew since the change was planned, e.g. a front-runner's trade).
    error CurveChangeCostExceeded(int256 cost, int256 maxCost);
    /// @dev This block's curve changes together would move positions' value by `move` (relative price move plus
    ///      relative base-reserve shrink, wad), more than `maxMove` = half the maintenance margin ratio.
    error CurveMoveTooLarge(uint256 move, uint256 maxMove);

    // ----------------------------------------------------------------------------------------- events
    /// @notice Every position change (open, increase, reduce, reverse, close, liquidation).
    /// @param margin margin after the change
    /// @param positionNotional the quote amount exchanged
    /// @param exchangedPositionSize base exchanged, signed
    /// @param fee toll + spread paid
    /// @param positionSizeAfter size after the change
    /// @param realizedPnl PnL realised by the change
    /// @param unrealizedPnlAfter spot PnL left in the position
    /// @param badDebt loss beyond the margin, paid by the InsuranceFund
    /// @param liquidationPenalty margin lost to a liquidation
    /// @param spotPrice pool price after the change
    /// @param fundingPayment funding settled (positive: the trader paid)
    event PositionChanged(
        address indexed trader,
        address indexed amm,
        uint256 margin,
        uint256 positionNotional,
        int256 exchangedPositionSize,
        uint256 fee,
        int256 positionSizeAfter,
        int256 realizedPnl,
        int256 unrealizedPnlAfter,
        uint256 badDebt,
        uint256 liquidationPenalty,
        uint256 spotPrice,
        int256 fundingPayment
    );
    /// @notice A liquidation. `positionNotional`: quote exchanged; `liquidationFee`: paid to the liquidator;
    ///         `badDebt`: the part of the liquidator's fee the InsuranceFund paid.
    event PositionLiquidated(
        address indexed trader,
        address indexed amm,
        uint256 positionNotional,
        uint256 positionSize,
        uint256 liquidationFee,
        address liquidator,
        uint256 badDebt
    );
    /// @notice Margin added (positive) or removed (negative), with the funding settled on the way.
    event MarginChanged(address indexed trader, address indexed amm, int256 amount, int256 fundingPayment);
    /// @notice A position settled after shutdown; `valueTransferred` (wad) credited to the vault balance.
    event PositionSettled(address indexed amm, address indexed trader, uint256 valueTransferred);
    /// @notice A position turned into a settlement claim in the window: its `value` at the settlement price,
    ///         funding included (wad), paid (pro rata when the market is short) once the window closes at `windowEnd`.
    event SettlementClaimed(address indexed amm, address indexed trader, uint256 value, uint256 windowEnd);
    /// @notice The claim window closed and the first payout fixed the settlement: the registered claims
    ///         (`totalClaims`) share `available` (wad), of which `fromInsuranceFund` the fund paid in.
    event SettlementFinalized(address indexed amm, uint256 totalClaims, uint256 available, uint256 fromInsuranceFund);
    /// @notice The last registered claim was paid: the rounding left of `available` (wad, less than one wei per
    ///         claim) went to the InsuranceFund.
    event SettlementDustSwept(address indexed amm, uint256 dust);
    /// @notice Funding settled for a market: the period's premium fraction, the longs' new cumulative value and
    ///         the pool's side (> 0: the InsuranceFund earned it; < 0: it paid).
    event FundingPaid(address indexed amm, int256 premiumFraction, int256 cumulativePremiumFraction, int256 insuranceFundPnl);
    /// @notice The receivers of funding were paid less than the premium: the pool's side of the imbalance was
    ///         `owedToReceivers` (wad) and the InsuranceFund paid `paid` of it (its surplus); the rest was taken off
    ///         what the receiving side gets (SPEC §3).
    event FundingShortfall(address indexed amm, uint256 owedToReceivers, uint256 paid);
    /// @notice After a liquidation, restriction mode holds for the rest of the block.
    event RestrictionModeEntered(address amm, uint256 blockNumber);
    /// @notice The InsuranceFund could not cover `shortfall`: the market was shut down.
    event MarketHalted(address indexed amm, uint256 shortfall);
    /// @notice A payout needed `amount` (wad) more than the market's collateral: the InsuranceFund prepaid it
    ///         (v1's prepaid bad debt), to be netted against the bad debt it pays later in that market.
    event BadDebtPrepaid(address indexed amm, uint256 amount);
    /// @notice A market was listed.
    event MarketListed(address indexed amm);
    /// @notice Margin parameters changed.
    event ParametersChanged(
        uint256 initMarginRatio, uint256 maintenanceMarginRatio, uint256 liquidationFeeRatio, uint256 partialLiquidationRatio
    );
    /// @notice Both reserves scaled (k adjustment). `cost` > 0: paid by the InsuranceFund; < 0: credited to it.
    event KAdjusted(
        address indexed amm,
        uint256 quoteReserveBefore,
        uint256 baseReserveBefore,
        uint256 quoteReserveAfter,
        uint256 baseReserveAfter,
        int256 cost
    );
    /// @notice The mark moved to `priceAfter` at a constant base reserve. `cost` as for KAdjusted.
    event Repegged(address indexed amm, uint256 priceBefore, uint256 priceAfter, int256 cost);
    /// @notice The liquidity controller allowed to call adjustK/repeg changed.
    event LiquidityControllerChanged(address controller);
    /// @notice Trading paused / unpaused by `account` (OpenZeppelin Pausable's events).
    event Paused(address account);
    event Unpaused(address account);
    /// @notice The fee pool (toll receiver) changed; zero = the InsuranceFund.
    event FeePoolChanged(address feePool);
    /// @notice The guardian (may pause, nothing else) changed.
    event GuardianChanged(address guardian);
}

/// @title ClearingHouse: positions, margin, fees, funding and liquidation
/// @notice Traders act here; collateral stays in the Vault, where a position's margin is taken from and
///         returned to the trader's free balance. Every amount, price and ratio is a wad (18 decimals);
///         sizes, PnL and funding are signed, long positive.
/// @title The ClearingHouse's wiring and roles, as its storage holds them (the risk module shares that storage)
interface IClearingHouseState {
    /// @notice The Vault holding every token (immutable).
    function vault() external view returns (IVault);
    /// @notice The InsuranceFund's account (immutable).
    function insuranceFund() external view returns (address);
    /// @notice Receives the toll; zero means the InsuranceFund.
    function feePool() external view returns (address);
    /// @notice May call adjustK and repeg besides the owner (the automatic liquidity controller; zero: none).
    function liquidityController() external view returns (address);
    /// @notice A market's open interest notional (quote, wad), kept only while the market has a cap (v1's guard).
    function openInterestNotional(IAmm amm) external view returns (uint256);
    /// @notice May pause trading and do nothing else (zero: none).
    function guardian() external view returns (address);
}

interface IClearingHouse is IClearingHouseTypes, IClearingHouseState {
    // ---------------------------------------------------------------------------------------- trading
    /// @notice Opens, increases, reduces or reverses a position.
    /// @param amm the market
    /// @param side BUY (long) or SELL (short)
    /// @param quoteAssetAmount margin in wad; the notional is quoteAssetAmount × leverage
    /// @param leverage wad, 1 / leverage >= initMarginRatio
    /// @param baseAssetAmountLimit minimum base for a long, maximum for a short; 0 = no limit
    function openPosition(IAmm amm, Side side, uint256 quoteAssetAmount, uint256 leverage, uint256 baseAssetAmountLimit)
        external;

    /// @notice Closes the whole position (or a `partialLiquidationRatio` part when a whole close would
    ///         cross the fluctuation limit); margin and PnL return to the vault balance.
    /// @param quoteAssetAmountLimit minimum quote when closing a long, maximum when closing a short; 0 = none
    function closePosition(IAmm amm, uint256 quoteAssetAmountLimit) external;

    /// @notice Moves `amount` (wad) from the vault balance into the position's margin.
    function addMargin(IAmm amm, uint256 amount) external;

    /// @notice Moves `amount` (wad) from the margin to the vault balance; free collateral must stay >= 0.
    function removeMargin(IAmm amm, uint256 amount) external;

    /// @notice Liquidates `trader` below the maintenance margin ratio; the fee goes to the caller's vault balance.
    function liquidate(IAmm amm, address trader) external;

    /// @notice Settles a funding period; anyone, once `nextFundingTime` has come.
    function payFunding(IAmm amm) external;

    /// @notice Scales both reserves by `factor` (wad) at an unchanged price; the exact cost of the change
    ///         (what closing the traders' net position would exchange, new curve minus old) is paid by the
    ///         InsuranceFund (or credited to it when negative). Owner or liquidity controller.
    /// @return cost wad, signed: positive = paid by the InsuranceFund
    function adjustK(IAmm amm, uint256 factor) external returns (int256 cost);

    /// @notice Moves the mark to `newPrice` (wad) at a constant base reserve, booking the cost like adjustK.
    function repeg(IAmm amm, uint256 newPrice) external returns (int256 cost);

    /// @notice `adjustK` with a bound on its cost: refused (`CurveChangeCostExceeded`) when the cost would exceed
    ///         `maxCost` (wad, signed; negative: the fund must gain at least `-maxCost`). The two-argument form
    ///         is bounded only by the fund's surplus. Both are refused after a trade in the same block
    ///         (`CurveChangeAfterTrade`) and when the block's changes would move positions' value by more than
    ///         `maxCurveMove()` (`CurveMoveTooLarge`).
    function adjustK(IAmm amm, uint256 factor, int256 maxCost) external returns (int256 cost);

    /// @notice `repeg` with a bound on its cost, as `adjustK(amm, factor, maxCost)`.
    function repeg(IAmm amm, uint256 newPrice, int256 maxCost) external returns (int256 cost);

    /// @notice After a shutdown, settles the caller's position at the settlement price, in two steps. Its value
    ///         is margin + PnL at the settlement price − the funding owed (wad, floored at 0; with a settlement
    ///         price of 0, margin − funding). While the claim window is open (`IAmm.settlementWindowEnd`), the
    ///         call registers that value as a claim and deletes the position (`SettlementClaimed`; a value of 0 is
    ///         settled at once). Once it has closed, the call pays the registered claim to the vault balance
    ///         (`PositionSettled`): in full when the market's collateral, plus what the InsuranceFund can pay in,
    ///         covers all the registered claims, else `claim × available / totalClaims` (rounded down; the last
    ///         payout sends the rounding dust to the fund): the same share whatever the order of the claims.
    ///         A position first settled after the window is paid at most that share, out of what the registered
    ///         claims leave and what the fund can pay in; it never dilutes them.
    /// @dev Reverts `MarketNotShutdown`, `NoPosition` (nothing to register or pay), `SettlementWindowOpen`.
    function settlePosition(IAmm amm) external;

    /// @notice `settlePosition` for `trader`, by anyone, credited to `trader`'s vault balance: in the window it
    ///         registers the trader's position as a claim, after it pays the registered claim. A position left
    ///         unregistered after the window is settled by its trader only (`NothingToSettle` here).
    /// @dev Reverts `MarketNotShutdown`, `NoPosition` (in the window), `SettlementWindowOpen`, `NothingToSettle`.
    function claimSettlement(IAmm amm, address trader) external;

    // ------------------------------------------------------------------------------------------ views
    /// @notice (size, margin, openNotional, lastUpdatedCumulativePremiumFraction).
    function getPosition(IAmm amm, address trader) external view returns (Position memory);
    /// @notice Position notional and unrealized PnL (no fees or funding) by spot, TWAP (15 min) or oracle.
    function getPositionNotionalAndUnrealizedPnl(IAmm amm, address trader, PnlCalcOption pnlCalcOption)
        external
        view
        returns (uint256 positionNotional, int256 unrealizedPnl);
    /// @notice (margin − funding payment + unrealized PnL) / position notional, the more favourable of spot and
    ///         15-minute TWAP; when spot is >= 10 % from the oracle, the oracle-based ratio if higher.
    function getMarginRatio(IAmm amm, address trader) external view returns (int256);
    /// @notice min(margin + funding owed, margin + funding owed + unrealized PnL) − initMarginRatio ×
    ///         (openNotional if long, positionNotional if short), the PnL the less favourable of spot and TWAP.
    function getFreeCollateral(IAmm amm, address trader) external view returns (int256);
    /// @notice The longs' cumulative premium fraction (wad, signed; the shorts' too unless receivers were paid
    ///         less, see `getFunding`).
    function getLatestCumulativePremiumFraction(IAmm amm) external view returns (int256);
    /// @notice A market's funding: both sides' cumulative premium fractions and open sizes.
    function getFunding(IAmm amm) external view returns (FundingState memory);
    /// @notice What the InsuranceFund has paid into `amm` ahead of the bad debt that caused it (wad): a
    ///         payout that needed more than the market held. Netted against that market's later bad debt.
    function prepaidBadDebt(IAmm amm) external view returns (uint256);
    /// @notice Bad debt the InsuranceFund could not pay when it arose (wad, all markets; their markets were
    ///         halted). The fund's withdrawable surplus excludes it. A halted market's part is released when its
    ///         settlement is finalized (paid in by the fund then, or borne pro rata by the claims).
    function unpaidBadDebt() external view returns (uint256);
    /// @notice The settlement of `amm` (all zero before a shutdown).
    function getSettlement(IAmm amm) external view returns (Settlement memory);
    /// @notice `trader`'s registered, unpaid settlement claim and its payout (wad): final once the settlement is
    ///         finalized, before that what it would be if the window closed now.
    function getSettlementClaim(IAmm amm, address trader) external view returns (uint256 claim, uint256 payout);
    /// @notice The most one block's curve changes may move positions' value (wad): half the maintenance margin
    ///         ratio, counting the relative price move plus the relative shrink of the base reserve.
    function maxCurveMove() external view returns (uint256);
    /// @notice Whether trading is paused (opening, increasing and adding margin refused; closing, liquidation,
    ///         funding and withdrawals stay open).
    function paused() external view returns (bool);
    /// @notice The initial margin ratio (wad): 1 / the maximum leverage.
    function initMarginRatio() external view returns (uint256);
    /// @notice The maintenance margin ratio (wad): below it a position may be liquidated.
    function maintenanceMarginRatio() external view returns (uint256);
    /// @notice The liquidator's share of a liquidated notional (wad).
    function liquidationFeeRatio() external view returns (uint256);
    /// @notice The share of a position a partial liquidation closes (wad; 0 = always full liquidation).
    function partialLiquidationRatio() external view returns (uint256);
    /// @notice Whether `amm` is listed, its booked collateral (wad, what the Vault holds for its positions) and the
    ///         last block a position of it was opened, closed or liquidated in (restriction mode).
    function getMarket(IAmm amm) external view returns (bool listed, int256 collateral, uint256 lastRestrictionBlock);
    /// @notice The module holding liquidation, settlement and curve changes, run in this contract's storage
    ///         (immutable).
    function riskModule() external view returns (address);

    // ------------------------------------------------------------------------------------------ owner
    /// @notice Lists a market: its Amm must name this ClearingHouse (`AmmOfAnotherClearingHouse`), once
    ///         (`MarketAlreadyListed`).
    function addAmm(IAmm amm) external;
    /// @notice Sets the margin parameters (wad): 0 < initial <= 1 (`InitMarginRatioOutOfRange`), maintenance <=
    ///         initial (`MaintenanceAboveInitial`), the liquidation fee and partial ratio <= 1 (`RatioAboveOne`), each a
    ///         multiple of 100 wei (`RatioNotInUnits`).
    function setParams(
        uint256 initMarginRatio_,
        uint256 maintenanceMarginRatio_,
        uint256 liquidationFeeRatio_,
        uint256 partialLiquidationRatio_
    ) external;
    /// @notice Sets the toll receiver; zero sends the toll to the InsuranceFund.
    function setFeePool(address feePool_) external;
    /// @notice Sets the guardian, who may pause and do nothing else (zero: none).
    function setGuardian(address guardian_) external;
    /// @notice Sets the contract allowed to call adjustK and repeg besides the owner, within the bounds the owner set
    ///         on it (zero: none).
    function setLiquidityController(address controller) external;
    /// @notice Pauses trading: the owner or the guardian.
    function pause() external;
    /// @notice Resumes trading: the owner only (on live deployments the timelock), so that a stolen guardian key can
    ///         stop trading but never restart it under an exploit.
    function unpause() external;
}
