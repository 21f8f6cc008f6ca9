"""Property tests: the hypothesis profiles (tests/property/profiles.py) are registered on import; the active one
(HYPOTHESIS_PROFILE, default `ci`) is shown in pytest's header."""

from __future__ import annotations

from tests.property.profiles import PROFILES, profile_name


def pytest_report_header() -> str:
    name = profile_name()
    values = PROFILES[name]
    return (f"property profile {name!r}: {values['max_examples']} examples x {values['stateful_step_count']} steps "
            "per configuration (HYPOTHESIS_PROFILE; tests/property/profiles.py)")
