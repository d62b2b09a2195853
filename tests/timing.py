"""Timing comparisons for enumeration tests: the Mann-Whitney U test (two-sided, normal
approximation with the tie correction), small enough to read instead of a SciPy
dependency. Callers take their samples interleaved (A, B, B, A, …) so that drift in the
machine's load (other processes on a shared 2-core host, the garbage collector, SQLite's
file growing) falls on both samples alike instead of looking like a difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    u: float
    z: float
    p: float
    median_a: float
    median_b: float

    def __str__(self) -> str:
        return (
            f"U={self.u:.0f} z={self.z:.2f} p={self.p:.4f} "
            f"median A={self.median_a * 1e3:.3f} ms B={self.median_b * 1e3:.3f} ms"
        )


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> Comparison:
    """Two-sided Mann-Whitney U of samples ``a`` and ``b`` (normal approximation, fine
    from about 20 values each; the test uses hundreds)."""
    n1, n2 = len(a), len(b)
    pooled = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        rank = (i + j) / 2 + 1  # ties share their mean rank
        for k in range(i, j + 1):
            ranks[k] = rank
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    r1 = sum(r for r, (_, group) in zip(ranks, pooled, strict=True) if group == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    mean = n1 * n2 / 2
    sd = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    z = (u1 - mean) / sd if sd else 0.0
    p = math.erfc(abs(z) / math.sqrt(2))
    return Comparison(u1, z, p, _median(a), _median(b))


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
