"""The stress scenarios, as data: an index path (key frames, an optional wave, noise) and a clock.

A path is defined on time, not on steps: `index_path(scenario, steps, rng)` samples it at `steps + 1`
evenly spaced instants, so a short test run sees the same market as the full run, only more coarsely.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from itertools import pairwise

HOUR = 3600


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    hours: float  # simulated duration
    steps: int  # default number of steps (the keepers act once per step)
    keyframes: tuple[tuple[float, float], ...]  # (hour, index / start index), interpolated geometrically
    wave: float = 0.0  # amplitude of a sine oscillation on top, as a fraction of the price
    wave_hours: float = 1.0  # its period
    noise: float = 0.0015  # σ of the index's random walk per minute (multiplicative)
    trades_per_hour: float = 0.1  # per trader: chance of opening or closing in an hour

    @property
    def duration(self) -> int:
        return int(self.hours * HOUR)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "crash", "−60 % in one hour", hours=2.5, steps=75,
            keyframes=((0, 1.0), (0.5, 1.0), (1.5, 0.4), (2.5, 0.4)),
        ),
        Scenario(
            "squeeze", "+80 % in one hour", hours=2.5, steps=75,
            keyframes=((0, 1.0), (0.5, 1.0), (1.5, 1.8), (2.5, 1.8)),
        ),
        Scenario(
            "chop", "±5 % oscillation for a day", hours=24, steps=96,
            keyframes=((0, 1.0), (24, 1.0)), wave=0.05, wave_hours=3, noise=0.0005,
        ),
        Scenario(
            "luna", "−99 % over two days", hours=50, steps=100,
            keyframes=((0, 1.0), (1, 1.0), (13, 0.75), (25, 0.45), (37, 0.15), (49, 0.01), (50, 0.01)),
            trades_per_hour=0.05,
        ),
    )
}


def trend(keyframes: tuple[tuple[float, float], ...], hour: float) -> float:
    """The key-frame price at `hour`: geometric interpolation (a constant % per hour between frames)."""
    for (h0, p0), (h1, p1) in pairwise(keyframes):
        if h0 <= hour <= h1:
            return p0 * (p1 / p0) ** ((hour - h0) / (h1 - h0)) if h1 > h0 else p1
    return keyframes[-1][1]


def index_path(scenario: Scenario, steps: int, rng: random.Random, start: float) -> list[float]:
    """The index at each of the `steps + 1` instants 0, dt, 2 dt, … (quote units)."""
    dt_minutes = scenario.hours * 60 / steps
    sigma = scenario.noise * math.sqrt(dt_minutes)
    walk, path = 1.0, []
    for i in range(steps + 1):
        hour = scenario.hours * i / steps
        if i:
            walk *= math.exp(rng.gauss(0.0, sigma))
        wave = 1 + scenario.wave * math.sin(2 * math.pi * hour / scenario.wave_hours)
        path.append(start * trend(scenario.keyframes, hour) * wave * walk)
    return path
