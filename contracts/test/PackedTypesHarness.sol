// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PoolSlot, PoolSlotLibrary, Slot0} from "../types/PoolSlot.sol";
import {TradingParams} from "../types/TradingParams.sol";
import {MarginParams, MarginParamsLibrary} from "../types/MarginParams.sol";
import {MarketState, MarketLongs, MarketWords} from "../types/MarketWords.sol";
import {StoredPosition, PositionSlots, PositionHead, PositionTail} from "../types/PositionSlots.sol";
import {VaultHead, VaultHeadLibrary} from "../types/VaultHead.sol";
import {Observation, ObservationLibrary} from "../types/Observation.sol";

/// @dev Test only: exposes every packed storage type's packing, getters and setters (tests/unit/test_packed_types.py).
contract PackedTypesHarness {
    PositionSlots private _position;

    function poolSlot(uint104 quote, uint96 base, uint32 lastBlock, uint16 head, bool open, bool reopen)
        external
        pure
        returns (uint256 word, Slot0 memory unpacked, uint256 reopened)
    {
        PoolSlot s = PoolSlotLibrary.pack(Slot0(quote, base, lastBlock, head, open));
        return (PoolSlot.unwrap(s), s.unpack(), PoolSlot.unwrap(s.withOpen(reopen)));
    }

    function tradingParams(uint256 before, uint40[4] calldata ratios, uint48[2] calldata caps)
        external
        pure
        returns (uint256 word, uint256[6] memory wad)
    {
        TradingParams p = TradingParams.wrap(before).withRatios(ratios[0], ratios[1], ratios[2], ratios[3]).withCaps(
            caps[0], caps[1]
        );
        wad = [
            p.tradeLimitRatio(),
            p.fluctuationLimitRatio(),
            p.tollRatio(),
            p.spreadRatio(),
            p.maxHoldingBaseAsset(),
            p.openInterestNotionalCap()
        ];
        return (TradingParams.unwrap(p), wad);
    }

    function marginParams(uint56[4] calldata ratios, bool paused, bool pausedAfter)
        external
        pure
        returns (uint256 word, uint256[4] memory wad, bool isPaused, uint256 repaused)
    {
        MarginParams p = MarginParamsLibrary.pack(ratios[0], ratios[1], ratios[2], ratios[3], paused);
        wad = [p.initMarginRatio(), p.maintenanceMarginRatio(), p.liquidationFeeRatio(), p.partialLiquidationRatio()];
        return (MarginParams.unwrap(p), wad, p.paused(), MarginParams.unwrap(p.withPaused(pausedAfter)));
    }

    function marketState(bool listed, uint32 lastRestrictionBlock, int96 collateral, int96 cumShort, int96 newCollateral)
        external
        pure
        returns (uint256 word, bool, uint32, int96, int96, uint256 recollateralized)
    {
        MarketState s = MarketWords.packState(listed, lastRestrictionBlock, collateral, cumShort);
        return (
            MarketState.unwrap(s),
            s.listed(),
            s.lastRestrictionBlock(),
            s.collateral(),
            s.cumShort(),
            MarketState.unwrap(s.withCollateral(newCollateral))
        );
    }

    function marketLongs(int96 cumLong, uint96 longSize) external pure returns (uint256 word, int96, uint96) {
        MarketLongs l = MarketWords.packLongs(cumLong, longSize);
        return (MarketLongs.unwrap(l), l.cumLong(), l.longSize());
    }

    /// @dev Stores a position, loads it back, then changes its margin and cumulative in place.
    function position(StoredPosition calldata p, uint96 newMargin, int128 newCumulative)
        external
        returns (uint256 head, uint256 tail, StoredPosition memory loaded, StoredPosition memory changed)
    {
        _position.store(p.size, p.margin, p.lastBlock, p.openNotional, p.lastUpdatedCumulativePremiumFraction);
        (head, tail) = (PositionHead.unwrap(_position.head), PositionTail.unwrap(_position.tail));
        loaded = _position.load();
        _position.head = _position.head.withMargin(newMargin);
        _position.tail = _position.tail.withCumulative(newCumulative);
        changed = _position.load();
    }

    function vaultHead(address clearingHouse, uint256 income, uint256 newIncome)
        external
        pure
        returns (uint256 word, address, uint256, uint256 reincome)
    {
        VaultHead h = VaultHeadLibrary.pack(clearingHouse, income);
        return (VaultHead.unwrap(h), h.clearingHouse(), h.fundIncomeWad(), VaultHead.unwrap(h.withFundIncome(newIncome)));
    }

    function observation(uint32 timestamp, uint80 price, uint256 cumulative, uint80 newPrice)
        external
        pure
        returns (uint256 word, uint32, uint256, uint144, uint256 repriced, uint256 placeholder)
    {
        Observation o = ObservationLibrary.pack(timestamp, price, cumulative);
        return (
            Observation.unwrap(o),
            o.timestamp(),
            o.blockStartPrice(),
            o.cumulative(),
            Observation.unwrap(o.withBlockStartPrice(newPrice)),
            Observation.unwrap(ObservationLibrary.placeholder())
        );
    }
}
