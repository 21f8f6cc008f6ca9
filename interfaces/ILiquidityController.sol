// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAmm} from "./IAmm.sol";
import {IInsuranceFund} from "./IInsuranceFund.sol";

/// @title The ClearingHouse's curve-changing surface used by the liquidity controller
/// @notice `adjustK` and `repeg` may be called by the ClearingHouse's owner or its `liquidityController`;
///         the cost (wad, signed; > 0 paid by the InsuranceFund into the market's collateral, < 0 credited
///         to the fund) is the exact change in what closing the traders' net position would exchange.
interface IClearingHouseCurve {
    /// @notice Scales both reserves by `factor` (wad) at an unchanged price; returns the cost, refused when it
    ///         would exceed `maxCost`.
    function adjustK(IAmm amm, uint256 factor, int256 maxCost) external returns (int256 cost);
    /// @notice Sets the quote reserve to `baseReserve × newPrice` (base unchanged); returns the cost, refused
    ///         when it would exceed `maxCost`.
    function repeg(IAmm amm, uint256 newPrice, int256 maxCost) external returns (int256 cost);
    /// @notice The most one block's curve changes may move positions' value (wad; half the maintenance ratio).
    function maxCurveMove() external view returns (uint256);
    /// @notice The InsuranceFund that pays (or receives) the cost.
    function insuranceFund() external view returns (address);
    /// @notice The contract allowed to call adjustK and repeg besides the owner.
    function liquidityController() external view returns (address);
}

/// @title Automatic liquidity controller: budgeted k adjustment and repeg, once per funding period
/// @notice Opt-in per market. The owner's keeper (or the owner), typically right after
///         `ClearingHouse.payFunding`, calls `update(amm)`: not anyone, so that nobody can time a curve change
///         around a position of their own. At most once per funding period per market, and only before any trade
///         of the block (the ClearingHouse refuses a curve change after one), the controller reads the pool and
///         oracle state and may
///         1. shrink k by up to `maxStep` when the InsuranceFund paid the last funding period (the traders'
///            net position and the funding rate have opposite signs) and |fundingRate| > `fundingBand`;
///         2. otherwise deepen k by up to `maxStep` (scaled by the activity `flow / flowTarget`, capped at 1)
///            when |markTwap − indexTwap| / indexTwap > `gapBand` and |net position| / baseReserve <=
///            `imbalanceBand`;
///         3. then move the spot price toward the index by at most `maxRepegStep` (relative) when the gap
///            exceeds `repegBand`.
///         A k change never leaves the base reserve outside [`minBaseReserve`, `maxBaseReserve`]; the shrink and
///         the repeg together stay within the ClearingHouse's `maxCurveMove()` (less 1e-6 for rounding). Every
///         action's exact cost (KMath.curveChangeCost, the ClearingHouse's own formula) is computed first;
///         an action that would cost more than the market's allowance is scaled down to the largest step
///         that fits (bisection on the exact cost) or skipped.
///
///         Budget: the InsuranceFund's income (growth of `fundBalance()` since the last accrual, floored at
///         0; the controller's own costs and gains are excluded) is shared among the configured markets,
///         each enabled market accruing `budgetShareOfFees × income` (the shares sum to at most 100 %). A
///         market's budget carries over what it did not spend; a negative cost (a gain for the fund) is
///         added back to it. The allowance of an update is `min(budget, fund surplus above its reserve
///         floor)`. Hence the controller's cumulative net spending on a market never exceeds its share of
///         the fund's cumulative income.
///
///         Units: ratios and prices are wad (18 decimals), reserves and budgets are wad of quote/base.
interface ILiquidityController {
    /// @notice Owner-set parameters of one market (wad unless noted).
    /// @param enabled whether `update` may act on this market
    /// @param maxStep largest relative k change per update, < 1 (0.02e18 = 2 %)
    /// @param maxRepegStep largest relative price move per update, < 1
    /// @param gapBand |mark − index| / index above which deepening is considered
    /// @param repegBand |mark − index| / index above which the price is moved toward the index
    /// @param imbalanceBand |net position| / baseReserve at or below which deepening is allowed
    /// @param flowTarget |Δ net position| / baseReserve since the last update at which deepening takes the
    ///        whole `maxStep`; below it the step is scaled down proportionally; 0 = always the whole step
    /// @param fundingBand |fundingRate| above which a funding payment by the InsuranceFund shrinks k
    /// @param budgetShareOfFees share of the InsuranceFund's income this market may spend, <= 1
    /// @param minBaseReserve a k change never leaves the base reserve below this (> 0)
    /// @param maxBaseReserve nor above this (>= minBaseReserve)
    struct Params {
        bool enabled;
        uint64 maxStep;
        uint64 maxRepegStep;
        uint64 gapBand;
        uint64 repegBand;
        uint64 imbalanceBand;
        uint64 flowTarget;
        uint64 fundingBand;
        uint64 budgetShareOfFees;
        uint128 minBaseReserve;
        uint128 maxBaseReserve;
    }

    /// @notice Which action an event refers to.
    enum Action {
        DEEPEN,
        SHRINK,
        REPEG
    }

    /// @notice What `update` would do now (or did), computed on the current state.
    /// @param gap (markTwap − indexTwap) / indexTwap over the funding period, signed
    /// @param imbalance |net position| / baseReserve
    /// @param flow |net position − net position at the last update| / baseReserve
    /// @param fundingRate the AMM's last settled funding rate
    /// @param allowance what the update may spend: min(budget after accrual, fund surplus)
    /// @param kAction DEEPEN or SHRINK when the rule asked for a k change (meaningless when kWanted = 0)
    /// @param kWanted factor the rule asked for (1 ± step), before the base bounds and the budget; 0 = none
    /// @param kWantedCost exact cost of `kWanted`
    /// @param kFactor factor passed to adjustK (1e18 = no k change)
    /// @param kCost exact cost of the k change
    /// @param repegWanted price the rule asked for (toward the index, within maxRepegStep) before the
    ///        budget; 0 = none
    /// @param repegWantedCost exact cost of `repegWanted` (after the k change)
    /// @param repegPrice price passed to repeg (0 = no repeg)
    /// @param repegCost exact cost of the repeg
    struct Decision {
        int256 gap;
        uint256 imbalance;
        uint256 flow;
        int256 fundingRate;
        uint256 allowance;
        Action kAction;
        uint256 kWanted;
        int256 kWantedCost;
        uint256 kFactor;
        int256 kCost;
        uint256 repegWanted;
        int256 repegWantedCost;
        uint256 repegPrice;
        int256 repegCost;
    }

    // ----------------------------------------------------------------------------------------- errors
    /// @dev The market is not configured, or configured but disabled.
    error ControllerDisabled(address amm);
    /// @dev No funding period was settled since the last update (`nextFundingTime` has not moved).
    error UpdateTooEarly(address amm, uint256 nextFundingTime);
    /// @dev The market is closed or shut down.
    error MarketNotOpen(address amm);
    /// @dev The market does not belong to the ClearingHouse this controller serves.
    error WrongClearingHouse(address amm);
    /// @dev A step (`maxStep`, `maxRepegStep`, wad) of 1e18 or more: one update could scale k to zero or double
    ///      the price.
    error StepNotBelowOne(uint256 step);
    /// @dev `budgetShareOfFees` above 1e18: the budget would take more than the fees earned.
    error BudgetShareAboveOne(uint256 share);
    /// @dev Base reserve bounds with min = 0 or min > max.
    error InvalidBounds(uint256 minBaseReserve, uint256 maxBaseReserve);
    /// @dev The enabled markets' budget shares would sum to more than 1e18.
    error BudgetSharesExceedOne(uint256 totalShare);
    /// @dev More markets than `MAX_MARKETS`.
    error TooManyMarkets();
    /// @dev Defensive: the ClearingHouse charged more than the allowance (its cost formula changed).
    error BudgetExceeded(int256 cost, uint256 allowance);
    /// @dev `update` called by someone other than the keeper or the owner.
    error NotKeeper(address caller);

    // ----------------------------------------------------------------------------------------- events
    /// @notice The account allowed to call `update` (besides the owner) changed; zero: the owner only.
    event KeeperChanged(address keeper);
    /// @notice A market's parameters were set (this also enables or disables it).
    event Configured(address indexed amm, Params params);
    /// @notice A market was enabled or disabled.
    event EnabledChanged(address indexed amm, bool enabled);
    /// @notice The InsuranceFund's income since the last accrual was shared among the enabled markets.
    event IncomeAccrued(uint256 fundBalance, uint256 income);
    /// @notice An update ran; `budget` is what the market has left afterwards.
    event Updated(address indexed amm, int256 gap, uint256 imbalance, uint256 flow, int256 fundingRate, uint256 budget);
    /// @notice k was scaled by `factor` (DEEPEN or SHRINK) at `cost`.
    event KStep(address indexed amm, Action action, uint256 factor, int256 cost);
    /// @notice The price moved from `priceBefore` to `priceAfter` at `cost`.
    event RepegStep(address indexed amm, uint256 priceBefore, uint256 priceAfter, int256 cost);
    /// @notice The budget or the bounds cut an action: `wanted` → `granted` (a k factor or a price; granted
    ///         equal to the starting value means the action was skipped). `wantedCost` is the cost of
    ///         the step the rule asked for.
    event StepLimited(
        address indexed amm, Action action, uint256 wanted, uint256 granted, int256 wantedCost, uint256 allowance
    );

    // ---------------------------------------------------------------------------------------- actions
    /// @notice Runs the rule on `amm` (the keeper or the owner, once per funding period); returns the total cost
    ///         booked. Each step is sent with its exact predicted cost as the ClearingHouse's `maxCost`.
    function update(IAmm amm) external returns (int256 totalCost);

    /// @notice Owner: sets the account allowed to call `update` (zero: the owner only).
    function setKeeper(address keeper) external;

    /// @notice Owner: sets a market's parameters; the first call records the funding clock, the net
    ///         position and lists the market for the income accrual.
    function configure(IAmm amm, Params calldata params) external;

    /// @notice Owner: enables or disables a configured market.
    function setEnabled(IAmm amm, bool enabled) external;

    // ------------------------------------------------------------------------------------------ views
    /// @notice What `update(amm)` would do if called now (ignores the once-per-period rule).
    function preview(IAmm amm) external view returns (Decision memory);
    /// @notice A market's parameters.
    function getParams(IAmm amm) external view returns (Params memory);
    /// @notice A market's unspent budget (wad), without the income not yet accrued.
    function budgetOf(IAmm amm) external view returns (uint256);
    /// @notice A market's budget including the income accrued if an update ran now.
    function pendingBudgetOf(IAmm amm) external view returns (uint256);
    /// @notice (nextFundingTime, net position) recorded at the market's last update.
    function lastUpdate(IAmm amm) external view returns (uint256 nextFundingTime, int256 netPosition);
    /// @notice The InsuranceFund balance (wad) after the last accrual or action.
    function lastFundBalance() external view returns (uint256);
    /// @notice Every configured market (enabled or not).
    function markets() external view returns (IAmm[] memory);
    /// @notice The account allowed to call `update` besides the owner (zero: none).
    function keeper() external view returns (address);
    /// @notice The ClearingHouse whose curve changes this controller makes (immutable).
    function clearingHouse() external view returns (IClearingHouseCurve);
    /// @notice The InsuranceFund whose income funds the budgets (immutable).
    function insuranceFund() external view returns (IInsuranceFund);
    /// @notice The most markets one controller serves (its update loop is bounded by it).
    function MAX_MARKETS() external view returns (uint256);
}
