"""The Mann-Whitney helper (tests/timing.py) against values computed by hand."""

from __future__ import annotations

import random

from tests.timing import mann_whitney


def test_identical_distributions_are_not_told_apart() -> None:
    rng = random.Random(7)
    a = [rng.gauss(10, 1) for _ in range(300)]
    b = [rng.gauss(10, 1) for _ in range(300)]
    assert mann_whitney(a, b).p > 0.01


def test_a_small_shift_is_found_with_a_few_hundred_values() -> None:
    rng = random.Random(7)
    a = [rng.gauss(10.0, 1) for _ in range(300)]
    b = [rng.gauss(10.5, 1) for _ in range(300)]
    result = mann_whitney(a, b)
    assert result.p < 1e-6 and result.z < 0


def test_known_value_with_ties() -> None:
    # Ranks 1, 2, 3.5, 5.5 for A: R1 = 12, U = 12 - 4*5/2 = 2. Two ties of two:
    # sd = sqrt(16/12 * (9 - 12/56)) = 3.4226; z = (2 - 8) / sd = -1.753; p = 0.0796.
    result = mann_whitney([1, 2, 3, 4], [3, 4, 5, 6])
    assert result.u == 2
    assert abs(result.z + 1.753) < 0.001
    assert abs(result.p - 0.0796) < 0.001
