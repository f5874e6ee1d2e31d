"""Dataset-level means of per-sample metrics: ``update()`` per batch, then ``summary()``.

    acc = MetricAccumulator()
    for batch in loader:
        acc.update(wholebody_errors_mm(...).as_dict(), fscore_5mm=...)
    print(acc.summary().format()); json.dump(acc.summary().as_dict(), f)

Each metric is a (B,) array/tensor of per-sample values (a Python or numpy scalar counts as
B = 1). NaN marks a sample that has no value for that metric (e.g. no valid joints): it is
counted as *skipped* and left out of the mean. The mean is over used samples (every sample
weighs the same, whatever its batch). A metric never updated is absent from the summary; one
whose samples were all skipped has mean ``None`` (JSON ``null``), never NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np
import torch

from robosmplx_core.eval._arrays import ArrayLike

__all__ = ["MetricAccumulator", "MetricSummary"]


@dataclass(frozen=True)
class MetricSummary:
    """Means of the accumulated metrics (read-only mappings keyed by metric name).

    Fields:
        means: name -> mean over used samples, or None when no sample was used.
        used: name -> number of samples in the mean.
        skipped: name -> number of samples with NaN (no value).
    """

    means: Mapping[str, float | None]
    used: Mapping[str, int]
    skipped: Mapping[str, int]

    def as_dict(self) -> dict[str, dict[str, float | int | None]]:
        """``{name: {"mean": float | None, "used": int, "skipped": int}}``, JSON-ready."""
        return {
            k: {"mean": self.means[k], "used": self.used[k], "skipped": self.skipped[k]}
            for k in self.means
        }

    def format(self, *, digits: int = 2) -> str:
        """One aligned line per metric: name, mean (``n/a`` if none), used and skipped counts."""
        if not self.means:
            return "(no metrics)"
        width = max(len(k) for k in self.means)
        lines = []
        for k, mean in self.means.items():
            shown = "n/a" if mean is None else f"{mean:.{digits}f}"
            lines.append(f"{k:<{width}}  {shown:>10}  (n={self.used[k]}, skipped={self.skipped[k]})")
        return "\n".join(lines)


def _as_values(value: ArrayLike | float, *, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().to("cpu", torch.float64).numpy()
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        value = np.asarray([value], dtype=np.float64)
    elif not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a (B,) tensor/array or a number, got {type(value).__name__}")
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(
            f"{name}: expected per-sample values of shape (B,), got {arr.shape}; "
            "reduce or split other axes first (e.g. FScore.as_dict())"
        )
    if np.isinf(arr).any():
        raise ValueError(f"{name}: contains inf; use NaN to mark a sample without a value")
    return arr


class MetricAccumulator:
    """Sums per-sample metric values over batches and reports means and sample counts."""

    def __init__(self) -> None:
        self._sum: dict[str, float] = {}
        self._used: dict[str, int] = {}
        self._skipped: dict[str, int] = {}

    def update(self, values: Mapping[str, ArrayLike] | None = None, /, **named: ArrayLike) -> None:
        """Add one batch of per-sample values.

        Args:
            values: name -> (B,) values (e.g. ``WholeBodyErrors.as_dict()``), or None.
            **named: more name=(B,) values; a name may not appear in both.

        Raises:
            ValueError: a value is not 1-D or holds inf; a name given twice.
            TypeError: a value is neither a tensor, an array nor a number.
        """
        batch = dict(values or {})
        twice = sorted(set(batch) & set(named))
        if twice:
            raise ValueError(f"update: metric(s) {twice} given both in the mapping and as keywords")
        batch.update(named)
        checked = {name: _as_values(v, name=name) for name, v in batch.items()}  # all or nothing
        for name, arr in checked.items():
            ok = ~np.isnan(arr)
            self._sum[name] = self._sum.get(name, 0.0) + math.fsum(arr[ok].tolist())
            self._used[name] = self._used.get(name, 0) + int(ok.sum())
            self._skipped[name] = self._skipped.get(name, 0) + int((~ok).sum())

    def summary(self) -> MetricSummary:
        """Current means and counts (the accumulator keeps accumulating afterwards)."""
        means = {k: (self._sum[k] / self._used[k] if self._used[k] else None) for k in self._sum}
        return MetricSummary(
            means=MappingProxyType(means),
            used=MappingProxyType(dict(self._used)),
            skipped=MappingProxyType(dict(self._skipped)),
        )

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        self._sum.clear()
        self._used.clear()
        self._skipped.clear()
