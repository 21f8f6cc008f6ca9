"""Hypothesis profiles for the property tests, chosen by the HYPOTHESIS_PROFILE environment variable.

brownie loads its own profile from brownie-config.yaml (`hypothesis:` max_examples 25, stateful_step_count 25)
when the project loads; to make sure ours wins whatever the load order, the machine gets these values explicitly
(`run_state_machine_as_test(..., settings=settings(**machine_settings()))` overrides every loaded profile). They
are also registered with hypothesis as `property-ci`, `property-medium`, `property-long`.

| profile | examples × steps per configuration | measured here (both configurations, 2 shared cores) |
| --- | --- | --- |
| `ci` (default) | 16 × 30 | 50 runs, 393 actions, 62 s (`tests/property` in all: 70 s) |
| `medium` | 40 × 50 | 103 runs, 3,055 actions, 6 min |
| `long` | 170 × 50 | see tests/property/README.md (≥ 10,000 actions) |

Hypothesis ends many runs before `stateful_step_count` (it favours short programs), hence the measured counts;
the test writes them to build/property/<profile>-<config>.txt.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings

PROFILES: dict[str, dict[str, int]] = {
    "ci": {"max_examples": 16, "stateful_step_count": 30},
    "medium": {"max_examples": 40, "stateful_step_count": 50},
    "long": {"max_examples": 170, "stateful_step_count": 50},
}
DEFAULT_PROFILE = "ci"


def profile_name() -> str:
    name = os.environ.get("HYPOTHESIS_PROFILE", DEFAULT_PROFILE)
    if name not in PROFILES:
        raise ValueError(f"unknown HYPOTHESIS_PROFILE {name!r}; known: {', '.join(PROFILES)}")
    return name


def machine_settings() -> dict[str, Any]:
    """The settings passed to brownie's `state_machine` (they override any loaded profile)."""
    return {
        **PROFILES[profile_name()],
        "deadline": None,
        "suppress_health_check": list(HealthCheck),
    }


for _name, _values in PROFILES.items():
    settings.register_profile(f"property-{_name}", deadline=None, suppress_health_check=list(HealthCheck),
                              **_values)
