// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IAmm} from "../interfaces/IAmm.sol";
import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";
import {ILiquidityController, IClearingHouseCurve} from "../interfaces/ILiquidityController.sol";
import {WadMath} from "./libraries/WadMath.sol";
import {PoolMath} from "./libraries/PoolMath.sol";
import {KMath} from "./libraries/KMath.sol";

/// @title Automatic liquidity controller
/// @notice Budgeted k adjustment and repeg through the ClearingHouse, at most once per funding period per
///         market; the rule and the budget are described in `ILiquidityController` and
///         docs/liquidity-controller.md. Costs are computed with `KMath.curveChangeCost` on the same reserves
///         the ClearingHouse will use (`KMath.scaled`, `KMath.repegged`), so the prediction is exact.
contract LiquidityController is ILiquidityController, Ownable {
    using WadMath for uint256;
    using WadMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @notice At most this many markets may be configured (the income accrual loops over them).
    uint256 public constant override MAX_MARKETS = 16;
    /// @dev Bisection rounds when the budget cuts a step (resolution: step / 2^40).
    uint256 private constant BISECTION_ROUNDS = 40;
    /// @dev Steps smaller than this (relative, wad) are not worth a transaction and are skipped.
    uint256 private constant MIN_STEP = 1e12;
    uint256 private constant WAD = 1e18;

    /// @dev Per-market bookkeeping.
    struct State {
        uint128 budget;
        uint32 lastNextFundingTime;
        bool listed;
        int256 lastNetPosition;
    }

    /// @notice The ClearingHouse whose `liquidityController` this contract is.
    IClearingHouseCurve public immutable override clearingHouse;
    /// @notice The InsuranceFund the costs are booked against (read from the ClearingHouse).
    IInsuranceFund public immutable override insuranceFund;

    /// @inheritdoc ILiquidityController
    uint256 public override lastFundBalance;
    /// @inheritdoc ILiquidityController
    address public override keeper;
    mapping(IAmm amm => Params) private _params;
    mapping(IAmm amm => State) private _state;
    IAmm[] private _markets;

    constructor(IClearingHouseCurve clearingHouse_, address owner_) Ownable(owner_) {
        clearingHouse = clearingHouse_;
        insuranceFund = IInsuranceFund(clearingHouse_.insuranceFund());
        lastFundBalance = insuranceFund.fundBalance();
    }

    // ===================================================================================== keeper

    /// @inheritdoc ILiquidityController
    function update(IAmm amm) external override returns (int256 totalCost) {
        if (msg.sender != keeper && msg.sender != owner()) revert NotKeeper(msg.sender);
        Params memory p = _params[amm];
        if (!p.enabled) revert ControllerDisabled(address(amm));
        if (!amm.open()) revert MarketNotOpen(address(amm));
        uint256 nextFundingTime = amm.nextFundingTime();
        State storage s = _state[amm];
        if (nextFundingTime <= s.lastNextFundingTime) revert UpdateTooEarly(address(amm), nextFundingTime);

        _accrue();
        Decision memory d = _decide(amm, p, s.budget, s.lastNetPosition);
        uint256 allowance = d.allowance;
        if (d.kFactor != WAD) {
            int256 cost = clearingHouse.adjustK(amm, d.kFactor, d.kCost);
            allowance = _spend(cost, allowance);
            totalCost += cost;
            emit KStep(address(amm), d.kAction, d.kFactor, cost);
        }
        if (d.kWanted != 0 && d.kFactor != d.kWanted) {
            emit StepLimited(address(amm), d.kAction, d.kWanted, d.kFactor, d.kWantedCost, d.allowance);
        }
        uint256 priceBefore = amm.getSpotPrice();
        uint256 repegAllowance = allowance;
        if (d.repegPrice != 0) {
            int256 cost = clearingHouse.repeg(amm, d.repegPrice, d.repegCost);
            allowance = _spend(cost, allowance);
            totalCost += cost;
            emit RepegStep(address(amm), priceBefore, amm.getSpotPrice(), cost);
        }
        if (d.repegWanted != 0 && d.repegPrice != d.repegWanted) {
            uint256 granted = d.repegPrice == 0 ? priceBefore : d.repegPrice;
            emit StepLimited(address(amm), Action.REPEG, d.repegWanted, granted, d.repegWantedCost, repegAllowance);
        }

        uint256 budget = (int256(uint256(s.budget)) - totalCost).toUint256();
        s.budget = budget.toUint128();
        s.lastNextFundingTime = nextFundingTime.toUint32();
        s.lastNetPosition = amm.totalPositionSize();
        // the controller's own costs and gains are not income
        lastFundBalance = insuranceFund.fundBalance();
        emit Updated(address(amm), d.gap, d.imbalance, d.flow, d.fundingRate, budget);
    }

    // ====================================================================================== owner

    /// @inheritdoc ILiquidityController
    function setKeeper(address keeper_) external override onlyOwner {
        keeper = keeper_;
        emit KeeperChanged(keeper_);
    }

    /// @inheritdoc ILiquidityController
    function configure(IAmm amm, Params calldata params) external override onlyOwner {
        if (amm.clearingHouse() != address(clearingHouse)) revert WrongClearingHouse(address(amm));
        if (params.maxStep >= WAD) revert StepNotBelowOne(params.maxStep);
        if (params.maxRepegStep >= WAD) revert StepNotBelowOne(params.maxRepegStep);
        if (params.budgetShareOfFees > WAD) revert BudgetShareAboveOne(params.budgetShareOfFees);
        if (params.minBaseReserve == 0 || params.minBaseReserve > params.maxBaseReserve) {
            revert InvalidBounds(params.minBaseReserve, params.maxBaseReserve);
        }
        _accrue(); // income so far is shared by the old shares
        State storage s = _state[amm];
        if (!s.listed) {
            if (_markets.length >= MAX_MARKETS) revert TooManyMarkets();
            _markets.push(amm);
            s.listed = true;
        }
        if (params.enabled && !_params[amm].enabled) _startClock(amm, s);
        _params[amm] = params;
        _checkShares();
        emit Configured(address(amm), params);
    }

    /// @inheritdoc ILiquidityController
    function setEnabled(IAmm amm, bool enabled) external override onlyOwner {
        State storage s = _state[amm];
        if (!s.listed) revert ControllerDisabled(address(amm));
        Params storage p = _params[amm];
        if (p.enabled == enabled) return;
        _accrue();
        if (enabled) _startClock(amm, s);
        p.enabled = enabled;
        _checkShares();
        emit EnabledChanged(address(amm), enabled);
    }

    // ====================================================================================== views

    /// @inheritdoc ILiquidityController
    function preview(IAmm amm) external view override returns (Decision memory) {
        return _decide(amm, _params[amm], pendingBudgetOf(amm), _state[amm].lastNetPosition);
    }

    /// @inheritdoc ILiquidityController
    function getParams(IAmm amm) external view override returns (Params memory) {
        return _params[amm];
    }

    /// @inheritdoc ILiquidityController
    function budgetOf(IAmm amm) external view override returns (uint256) {
        return _state[amm].budget;
    }

    /// @inheritdoc ILiquidityController
    function pendingBudgetOf(IAmm amm) public view override returns (uint256 budget) {
        budget = _state[amm].budget;
        Params memory p = _params[amm];
        uint256 balance = insuranceFund.fundBalance();
        if (p.enabled && balance > lastFundBalance) budget += (balance - lastFundBalance).mulWad(p.budgetShareOfFees);
    }

    /// @inheritdoc ILiquidityController
    function lastUpdate(IAmm amm) external view override returns (uint256 nextFundingTime, int256 netPosition) {
        State memory s = _state[amm];
        return (s.lastNextFundingTime, s.lastNetPosition);
    }

    /// @inheritdoc ILiquidityController
    function markets() external view override returns (IAmm[] memory) {
        return _markets;
    }

    // =================================================================================== internals

    /// @dev The rule, on the current state: a k step (shrink or deepen), then a repeg on the new curve.
    function _decide(IAmm amm, Params memory p, uint256 budget, int256 lastNet)
        private
        view
        returns (Decision memory d)
    {
        (uint256 q, uint256 b) = amm.getReserve();
        int256 net = amm.totalPositionSize();
        uint256 period = amm.fundingPeriod();
        int256 index = amm.getUnderlyingTwapPrice(period).toInt();
        d.gap = (amm.getTwapPrice(period).toInt() - index).divWad(index);
        d.imbalance = net.abs().divWad(b);
        d.flow = (net - lastNet).abs().divWad(b);
        d.fundingRate = amm.fundingRate();
        d.allowance = Math.min(budget, insuranceFund.surplus());
        d.kFactor = WAD;
        uint256 gap = d.gap.abs();
        // the ClearingHouse's bound on the update's shrink plus repeg, less a margin for rounding
        uint256 moveLimit = clearingHouse.maxCurveMove();
        moveLimit = moveLimit > MIN_STEP ? moveLimit - MIN_STEP : 0;

        // 1. k: shrink when the fund pays funding, else deepen when the gap is wide and the book balanced
        bool fundPays = (d.fundingRate > 0 && net < 0) || (d.fundingRate < 0 && net > 0);
        if (fundPays && d.fundingRate.abs() > p.fundingBand) {
            if (p.maxStep >= MIN_STEP) {
                uint256 floor = Math.max(Math.ceilDiv(uint256(p.minBaseReserve) * WAD, b), WAD - moveLimit);
                _fitK(d, Action.SHRINK, net, q, b, WAD - p.maxStep, floor);
            }
        } else if (gap > p.gapBand && d.imbalance <= p.imbalanceBand) {
            uint256 step = p.maxStep;
            if (p.flowTarget != 0 && d.flow < p.flowTarget) step = step * d.flow / p.flowTarget;
            if (step >= MIN_STEP) {
                uint256 ceiling = uint256(p.maxBaseReserve) * WAD / b;
                _fitK(d, Action.DEEPEN, net, q, b, WAD + step, ceiling);
            }
        }
        if (d.kFactor != WAD) (q, b) = KMath.scaled(q, b, d.kFactor);

        // 2. repeg toward the index, at most maxRepegStep, within what is left of the allowance and of the move
        if (gap > p.repegBand && p.maxRepegStep != 0) {
            uint256 spot = PoolMath.spotPrice(q, b);
            uint256 target = amm.getUnderlyingPrice();
            uint256 lower = spot.mulWad(WAD - p.maxRepegStep);
            uint256 upper = spot.mulWad(WAD + p.maxRepegStep);
            uint256 wanted = target < lower ? lower : (target > upper ? upper : target);
            uint256 shrunk = d.kFactor < WAD ? WAD - d.kFactor : 0;
            uint256 room = moveLimit > shrunk ? moveLimit - shrunk : 0;
            int256 left = d.allowance.toInt() - d.kCost;
            _fitRepeg(d, net, q, b, spot, wanted, room, left > 0 ? uint256(left) : 0);
        }
    }

    /// @dev Largest factor between 1 and `wanted` (clamped by the base bound `bound`: a floor when
    ///      shrinking, a ceiling when deepening) whose exact cost fits the allowance. The cost is monotone
    ///      in the factor (a deeper pool owes the net position more) up to a wei of rounding; the
    ///      bisection keeps `lo` a factor whose cost was checked, starting from 1 (cost exactly 0).
    function _fitK(Decision memory d, Action action, int256 net, uint256 q, uint256 b, uint256 wanted, uint256 bound)
        private
        pure
    {
        (d.kAction, d.kWanted) = (action, wanted);
        d.kWantedCost = _kCost(net, q, b, wanted);
        bool deepen = action == Action.DEEPEN;
        uint256 hi = deepen ? Math.min(wanted, bound) : Math.max(wanted, bound);
        // the bounds leave no room (the base reserve may already be beyond them after trades)
        if ((deepen ? hi <= WAD : hi >= WAD) || _relDiff(hi, WAD) < MIN_STEP) return;
        uint256 allowance = d.allowance;
        int256 cost = hi == wanted ? d.kWantedCost : _kCost(net, q, b, hi);
        uint256 lo = WAD;
        int256 loCost;
        if (_fits(cost, allowance)) {
            (lo, loCost) = (hi, cost);
        } else {
            for (uint256 i; i < BISECTION_ROUNDS; ++i) {
                uint256 mid = (lo + hi) / 2;
                if (mid == lo || mid == hi) break;
                int256 c = _kCost(net, q, b, mid);
                if (_fits(c, allowance)) (lo, loCost) = (mid, c);
                else hi = mid;
            }
            if (_relDiff(lo, WAD) < MIN_STEP) return;
        }
        (d.kFactor, d.kCost) = (lo, loCost);
    }

    /// @dev Price between `spot` and `wanted`, at most `room` (relative) from `spot`, closest to `wanted` whose
    ///      exact repeg cost fits `allowance`. Repegging at `spot` itself may differ from the current quote
    ///      reserve by rounding, so `lo` only counts once a price's cost was checked.
    function _fitRepeg(
        Decision memory d,
        int256 net,
        uint256 q,
        uint256 b,
        uint256 spot,
        uint256 wanted,
        uint256 room,
        uint256 allowance
    ) private pure {
        if (_relDiff(wanted, spot) < MIN_STEP) return;
        d.repegWanted = wanted;
        d.repegWantedCost = _repegCost(net, q, b, wanted);
        // the ClearingHouse's move bound: what the shrink left of it
        uint256 reachable = wanted;
        if (_relDiff(wanted, spot) > room) reachable = wanted > spot ? spot.mulWad(WAD + room) : spot.mulWad(WAD - room);
        if (_relDiff(reachable, spot) < MIN_STEP) return;
        int256 reachableCost = reachable == wanted ? d.repegWantedCost : _repegCost(net, q, b, reachable);
        if (_fits(reachableCost, allowance)) {
            (d.repegPrice, d.repegCost) = (reachable, reachableCost);
            return;
        }
        (uint256 lo, uint256 hi) = (spot, reachable);
        int256 loCost;
        bool found;
        for (uint256 i; i < BISECTION_ROUNDS; ++i) {
            uint256 mid = (lo + hi) / 2;
            if (mid == lo || mid == hi) break;
            int256 c = _repegCost(net, q, b, mid);
            if (_fits(c, allowance)) (lo, loCost, found) = (mid, c, true);
            else hi = mid;
        }
        if (!found || _relDiff(lo, spot) < MIN_STEP) return;
        (d.repegPrice, d.repegCost) = (lo, loCost);
    }

    function _fits(int256 cost, uint256 allowance) private pure returns (bool) {
        return cost <= 0 || uint256(cost) <= allowance;
    }

    /// @dev |a − b| / b (wad).
    function _relDiff(uint256 a, uint256 b) private pure returns (uint256) {
        return (a > b ? a - b : b - a).divWad(b);
    }

    function _kCost(int256 net, uint256 q, uint256 b, uint256 factor) private pure returns (int256) {
        (uint256 q1, uint256 b1) = KMath.scaled(q, b, factor);
        return KMath.curveChangeCost(net, q, b, q1, b1);
    }

    function _repegCost(int256 net, uint256 q, uint256 b, uint256 price) private pure returns (int256) {
        (uint256 q1, uint256 b1) = KMath.repegged(b, price);
        return KMath.curveChangeCost(net, q, b, q1, b1);
    }

    /// @dev What is left of the allowance after `cost`; a gain adds to it.
    function _spend(int256 cost, uint256 allowance) private pure returns (uint256) {
        if (cost > 0 && uint256(cost) > allowance) revert BudgetExceeded(cost, allowance);
        return (int256(allowance) - cost).toUint256();
    }

    /// @dev Shares the InsuranceFund's income since the last accrual among the enabled markets.
    function _accrue() private {
        uint256 balance = insuranceFund.fundBalance();
        uint256 last = lastFundBalance;
        if (balance > last) {
            uint256 income = balance - last;
            uint256 n = _markets.length;
            for (uint256 i; i < n; ++i) {
                IAmm m = _markets[i];
                Params memory p = _params[m];
                if (!p.enabled || p.budgetShareOfFees == 0) continue;
                State storage s = _state[m];
                s.budget = (uint256(s.budget) + income.mulWad(p.budgetShareOfFees)).toUint128();
            }
            emit IncomeAccrued(balance, income);
        }
        lastFundBalance = balance;
    }

    /// @dev A market (re-)enabled waits for the next funding period and measures flow from now.
    function _startClock(IAmm amm, State storage s) private {
        s.lastNextFundingTime = amm.nextFundingTime().toUint32();
        s.lastNetPosition = amm.totalPositionSize();
    }

    function _checkShares() private view {
        uint256 total;
        uint256 n = _markets.length;
        for (uint256 i; i < n; ++i) {
            Params memory p = _params[_markets[i]];
            if (p.enabled) total += p.budgetShareOfFees;
        }
        if (total > WAD) revert BudgetSharesExceedOne(total);
    }
}
