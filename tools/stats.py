"""The one percentile definition the measurement tools print (NumPy's linear interpolation), so
a p95 in one tool's output means the same as in another's."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100); NaN for no values."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def latency_summary(seconds: Sequence[float]) -> str:
    """``p50 X ms, p95 Y ms, max Z ms`` of latencies given in seconds."""
    ms = [value * 1000 for value in seconds]
    return f"p50 {percentile(ms, 50):.0f} ms, p95 {percentile(ms, 95):.0f} ms, max {max(ms, default=float('nan')):.0f} ms"
