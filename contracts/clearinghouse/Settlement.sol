// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAmm} from "../../interfaces/IAmm.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {StoredPosition} from "../types/PositionSlots.sol";
import {PositionTransitions} from "./PositionTransitions.sol";

/// @title Settlement after a shutdown
/// @notice `settlePosition` and `claimSettlement`: a shut-down market's positions valued at its settlement price,
///         claims registered in the window and paid pro rata out of what the market holds plus what the fund
///         can pay in. Runs in the `ClearingHouseRiskModule`, by DELEGATECALL from the ClearingHouse.
abstract contract Settlement is PositionTransitions {
    using WadMath for uint256;
    using WadMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @notice See IClearingHouse.
    function settlePosition(IAmm amm) external {
        _settle(amm, msg.sender, true);
    }

    /// @notice See IClearingHouse.
    function claimSettlement(IAmm amm, address trader) external {
        _settle(amm, trader, false);
    }

    /// @dev Settlement is a claim book, so that no payout depends on the order of the claims: in the window each
    ///      position becomes a claim (its value, funding included); after it, the registered claims share what
    ///      the market holds (plus what the fund can pay in) pro rata, rounded down, the last one sweeping the
    ///      dust to the fund. `byTrader`: the trader's own call, which alone may settle a late position.
    function _settle(IAmm amm, address trader, bool byTrader) internal {
        Market memory market = _listedMarket(amm);
        if (!amm.isShutdown()) revert MarketNotShutdown();
        uint256 windowEnd = amm.settlementWindowEnd();
        uint256 claim = _settlementClaims[amm][trader];
        SettlementBook storage book = _settlements[amm];
        if (block.timestamp < windowEnd) {
            if (claim != 0) revert SettlementWindowOpen(windowEnd);
            uint256 value = _takePositionValue(amm, market, trader);
            if (value == 0) {
                emit PositionSettled(address(amm), trader, 0);
                return;
            }
            _settlementClaims[amm][trader] = value;
            book.totalClaims = (uint256(book.totalClaims) + value).toUint128();
            book.unpaidClaims += 1;
            emit SettlementClaimed(address(amm), trader, value, windowEnd);
            return;
        }
        if (!book.finalized) _finalizeSettlement(amm, market, book);
        uint256 paid;
        if (claim != 0) {
            paid = _payClaim(amm, market, book, trader, claim);
        } else {
            if (!byTrader) revert NothingToSettle();
            paid = _payLateClaim(market, book, _takePositionValue(amm, market, trader));
        }
        _writeMarket(amm, market);
        if (paid != 0) vault.credit(trader, paid);
        emit PositionSettled(address(amm), trader, paid);
    }

    /// @dev Deletes `trader`'s position and returns its value at the settlement price: margin + PnL − funding
    ///      owed, floored at 0 (v1's formula and rounding for the PnL; margin − funding at a price of 0).
    function _takePositionValue(IAmm amm, Market memory market, address trader) internal returns (uint256) {
        StoredPosition memory pos = _positions[amm][trader].load();
        if (pos.size == 0) revert NoPosition();
        delete _positions[amm][trader];
        uint256 price = amm.getSettlementPrice();
        int256 value = int256(uint256(pos.margin)) - _fundingPayment(market, pos);
        if (price != 0) {
            uint256 openPrice = uint256(pos.openNotional).divWad(WadMath.abs(pos.size));
            value += int256(pos.size).mulWad(price.toInt() - openPrice.toInt());
        }
        return value > 0 ? uint256(value) : 0;
    }

    /// @dev The window has closed: the registered claims' share is fixed. When the market's collateral is short of
    ///      them, the InsuranceFund pays in what it can of the difference (the bad debt the settlement realises).
    ///      The market's part of the unpaid bad debt is released: paid now, or borne by the claims.
    function _finalizeSettlement(IAmm amm, Market memory market, SettlementBook storage book) internal {
        uint256 total = book.totalClaims;
        uint256 held = int256(market.collateral).toUint256();
        uint256 fromFund;
        if (total > held) {
            fromFund = vault.debitUpTo(insuranceFund, total - held);
            held += fromFund;
            market.collateral = held.toInt().toInt96();
        }
        uint256 available = held < total ? held : total;
        book.available = uint128(available); // <= totalClaims, a uint128
        book.finalized = true;
        uint256 shortfall = _haltShortfall[amm];
        if (shortfall != 0) {
            _haltShortfall[amm] = 0;
            _unpaidBadDebt -= shortfall;
        }
        emit SettlementFinalized(address(amm), total, available, fromFund);
    }

    /// @dev Pays a registered claim its share, rounded down; the last one sends the rounding dust to the fund, so
    ///      that the payouts plus the dust are exactly `available`.
    function _payClaim(IAmm amm, Market memory market, SettlementBook storage book, address trader, uint256 claim)
        internal
        returns (uint256 paid)
    {
        uint256 total = book.totalClaims;
        uint256 available = book.available;
        paid = available == total ? claim : claim * available / total;
        _settlementClaims[amm][trader] = 0;
        uint256 paidSoFar = uint256(book.paid) + paid;
        book.paid = uint128(paidSoFar); // <= available, a uint128
        uint64 unpaid = book.unpaidClaims - 1;
        book.unpaidClaims = unpaid;
        uint256 out = paid;
        if (unpaid == 0 && available > paidSoFar) {
            uint256 dust = available - paidSoFar;
            out += dust;
            _vaultSettle(address(0), 0, 0, dust);
            emit SettlementDustSwept(address(amm), dust);
        }
        market.collateral = (int256(market.collateral) - out.toInt()).toInt96();
    }

    /// @dev A position first settled after the window: at most the registered claims' share of its value, out of
    ///      what they leave in the market, and beyond that what the fund can pay in (never out of their share).
    function _payLateClaim(Market memory market, SettlementBook storage book, uint256 value)
        internal
        returns (uint256 due)
    {
        uint256 total = book.totalClaims;
        uint256 available = book.available;
        due = available == total ? value : value * available / total;
        uint256 reserved = book.unpaidClaims != 0 ? available - book.paid : 0;
        uint256 free = int256(market.collateral).toUint256() - reserved;
        if (due > free) {
            uint256 fromFund = vault.debitUpTo(insuranceFund, due - free);
            due = free + fromFund;
            market.collateral = (int256(market.collateral) + fromFund.toInt()).toInt96();
        }
        market.collateral = (int256(market.collateral) - due.toInt()).toInt96();
    }
}
