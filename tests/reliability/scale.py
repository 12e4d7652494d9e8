"""How big each suite runs: the full counts, or a CI size that fits the budget.

``make test`` (and so CI) runs the CI size: the whole reliability suite must stay within
about six minutes on two cores. ``make reliability-full`` sets ``OTP_RELIABILITY_FULL=1``
and runs the full counts; its figures are the ones in tests/reliability/README.md.
"""

from __future__ import annotations

import os

FULL = os.environ.get("OTP_RELIABILITY_FULL", "") == "1"


def scaled(full: int, ci: int) -> int:
    return full if FULL else ci
