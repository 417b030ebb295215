"""Bin packing of trace lengths into fixed-capacity packed sequences.

Long-context SFT packs many traces into one sequence of the stage's capacity (16K, 32K, 64K
or 128K tokens). Every empty slot is compute paid for nothing, so the number of bins matters:
the goal is to stay within 1% of the lower bound

    lower_bound = max(ceil(sum(lengths) / capacity), #{lengths > capacity / 2})

(two items longer than half the capacity can never share a bin), i.e. >= 99% token
utilisation wherever that bound allows it.

The packer is Best-Fit-Decreasing, computed exactly but in batches. Lengths are integers in
``[1, capacity]``, so items are processed one *distinct length* at a time and open bins are
grouped by their remaining capacity. For a run of ``k`` items of size ``v`` the best-fit bin is
the group with the smallest remaining capacity ``r >= v``; sequential BFD puts ``r // v`` items
into one bin of that group before moving to the next bin of the group (after one item the bin's
remaining ``r - v`` is still the best fit while it is ``>= v``), so a whole group is served with
one ``numpy.repeat``. Opened bins likewise take ``capacity // v`` items each. The work per
distinct length is a handful of Python operations plus vectorised writes, so millions of
lengths pack in seconds (dominated by two sorts).

Over-long lengths are an error: callers drop (and count) traces that do not fit the stage before
packing. Nothing is ever truncated here.
"""

from __future__ import annotations

import bisect
import gc
import math
from collections.abc import Sequence

import numpy as np

__all__ = ["pack", "lower_bound", "utilisation", "check_packing", "bin_loads", "packing_summary"]


def _as_lengths(lengths: Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(lengths)
    if arr.ndim != 1:
        raise ValueError(f"lengths must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        as_int = arr.astype(np.int64)
        bad = np.flatnonzero(as_int != arr)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"length at index {i} is not an integer: {arr[i]!r}")
        arr = as_int
    return arr.astype(np.int64, copy=False)


def _effective(arr: np.ndarray, multiple: int) -> np.ndarray:
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    if multiple == 1:
        return arr
    return -(-arr // multiple) * multiple


def lower_bound(lengths: Sequence[int] | np.ndarray, capacity: int, *, multiple: int = 1) -> int:
    """Fewest bins any packing can use: ``max(ceil(sum/capacity), #{len > capacity/2})``."""
    arr = _effective(_as_lengths(lengths), multiple)
    if arr.size == 0:
        return 0
    by_volume = -(-int(arr.sum()) // int(capacity))
    by_size = int(np.count_nonzero(2 * arr > capacity))
    return max(by_volume, by_size)


def bin_loads(bins: Sequence[Sequence[int]], lengths: Sequence[int] | np.ndarray) -> np.ndarray:
    """Total length in each bin (int64 array, one entry per bin)."""
    arr = _as_lengths(lengths)
    sizes = np.fromiter((len(b) for b in bins), dtype=np.int64, count=len(bins))
    if sizes.sum() == 0:
        return np.zeros(len(bins), dtype=np.int64)
    flat = np.fromiter((i for b in bins for i in b), dtype=np.int64, count=int(sizes.sum()))
    owner = np.repeat(np.arange(len(bins)), sizes)
    return np.bincount(owner, weights=arr[flat], minlength=len(bins)).astype(np.int64)


def utilisation(bins: Sequence[Sequence[int]], lengths: Sequence[int] | np.ndarray, capacity: int) -> float:
    """Fraction of the packed capacity (``len(bins) * capacity``) holding real tokens.

    Returns 0.0 when there are no bins (nothing was packed).
    """
    if len(bins) == 0:
        return 0.0
    return float(bin_loads(bins, lengths).sum()) / (len(bins) * int(capacity))


def check_packing(
    bins: Sequence[Sequence[int]], lengths: Sequence[int] | np.ndarray, capacity: int, *, multiple: int = 1
) -> None:
    """Raise ``AssertionError`` unless every index appears exactly once and no bin overflows."""
    arr = _effective(_as_lengths(lengths), multiple)
    seen = np.zeros(arr.size, dtype=np.int64)
    for b in bins:
        if len(b) == 0:
            raise AssertionError("empty bin")
        seen[np.asarray(b, dtype=np.int64)] += 1
    if arr.size and not (seen == 1).all():
        bad = np.flatnonzero(seen != 1)
        i = int(bad[0])
        raise AssertionError(f"{bad.size} indices not packed exactly once, e.g. index {i} x{int(seen[i])}")
    loads = bin_loads(bins, arr)
    if loads.size and loads.max() > capacity:
        j = int(loads.argmax())
        raise AssertionError(f"bin {j} holds {int(loads[j])} > capacity {capacity}")


def _stable_argsort(keys: np.ndarray, max_key: int) -> np.ndarray:
    """Stable argsort of non-negative integer keys as 16-bit radix passes (O(n) per pass)."""
    if max_key < 1 << 16:
        return np.argsort(keys.astype(np.uint16), kind="stable")
    if max_key < 1 << 32:
        k = keys.astype(np.uint32)
        o = np.argsort((k & 0xFFFF).astype(np.uint16), kind="stable")
        return o[np.argsort((k[o] >> 16).astype(np.uint16), kind="stable")]
    return np.argsort(keys, kind="stable")


def pack(
    lengths: Sequence[int] | np.ndarray, capacity: int, *, multiple: int = 1
) -> list[list[int]]:
    """Pack ``lengths`` into bins of ``capacity`` with Best-Fit-Decreasing.

    Args:
        lengths: integer lengths (tokens per trace), each in ``[1, capacity]``.
        capacity: bin size in tokens (the stage's packed sequence length).
        multiple: account for each item as ``ceil(len / multiple) * multiple`` tokens; use this
            when every sample is padded on its own (e.g. to ``2 * CP`` for context-parallel
            varlen attention), so that the padded samples still fit.

    Returns:
        A list of bins, each a list of indices into ``lengths`` (largest item first). Every
        index appears exactly once; bins are in the order they were opened.

    Raises:
        ValueError: a length is < 1 or larger than ``capacity`` (the message names the index
            and the length). Over-long traces are dropped by the caller, never truncated.
    """
    capacity = int(capacity)
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1, got {capacity}")
    raw = _as_lengths(lengths)
    n = int(raw.size)
    if n == 0:
        return []
    arr = _effective(raw, int(multiple))
    small = np.flatnonzero(raw < 1)
    if small.size:
        i = int(small[0])
        raise ValueError(f"length {int(raw[i])} at index {i} is < 1; empty traces cannot be packed")
    over = np.flatnonzero(arr > capacity)
    if over.size:
        i = int(over[0])
        extra = f" (and {over.size - 1} more)" if over.size > 1 else ""
        shown = f"{int(raw[i])}" + (f" ({int(arr[i])} padded to x{multiple})" if multiple > 1 else "")
        raise ValueError(
            f"length {shown} at index {i} exceeds capacity {capacity}{extra}; "
            "drop over-long traces before packing (they are never truncated)"
        )

    order = _stable_argsort(capacity - arr, capacity)  # decreasing length, ties by index
    sorted_vals = arr[order]
    cut = np.flatnonzero(sorted_vals[1:] != sorted_vals[:-1]) + 1
    run_starts = np.concatenate(([0], cut)).tolist()
    run_ends = np.concatenate((cut, [n])).tolist()
    run_vals = sorted_vals[np.asarray(run_starts, dtype=np.int64)].tolist()
    min_len = int(sorted_vals[-1])

    bin_of_sorted = np.empty(n, dtype=np.int64)
    keys: list[int] = []  # ascending remaining capacities that have open bins
    groups: dict[int, list[int]] = {}  # remaining capacity -> ids of open bins
    n_bins = 0

    def add(rem: int, ids: list[int]) -> None:
        # Bins that can no longer take even the smallest item are closed for good.
        if rem < min_len or not ids:
            return
        lst = groups.get(rem)
        if lst is None:
            groups[rem] = list(ids)
            bisect.insort(keys, rem)
        else:
            lst.extend(ids)

    for v, p, end in zip(run_vals, run_starts, run_ends):
        k = end - p
        while k > 0:
            i = bisect.bisect_left(keys, v)
            if i == len(keys):
                # No open bin fits: open new ones, each taking capacity // v items.
                m = capacity // v
                q, rest = divmod(k, m)
                if q:
                    bin_of_sorted[p : p + q * m] = np.repeat(np.arange(n_bins, n_bins + q), m)
                    add(capacity - m * v, list(range(n_bins, n_bins + q)))
                    n_bins += q
                    p += q * m
                if rest:
                    bin_of_sorted[p : p + rest] = n_bins
                    add(capacity - rest * v, [n_bins])
                    n_bins += 1
                    p += rest
                k = 0
                break
            r = keys[i]
            lst = groups[r]
            j = r // v  # items one bin of this group takes before it stops being the best fit
            cnt = len(lst)
            full = min(cnt, k // j)
            moved_full: list[int] = []
            moved_part: list[int] = []
            if full:
                moved_full = lst[cnt - full :]
                del lst[cnt - full :]
                bin_of_sorted[p : p + full * j] = np.repeat(np.asarray(moved_full, dtype=np.int64), j)
                p += full * j
                k -= full * j
            if k and lst:  # fewer than j items left: they all go into one more bin
                b = lst.pop()
                bin_of_sorted[p : p + k] = b
                moved_part = [b]
                part_rem = r - k * v
                p += k
                k = 0
            if not lst:
                del groups[r]
                keys.pop(i)
            if moved_full:
                add(r - j * v, moved_full)
            if moved_part:
                add(part_rem, moved_part)

    # Group item indices by bin; within a bin keep the decreasing-length order.
    perm = _stable_argsort(bin_of_sorted, n_bins)
    items = order[perm].tolist()
    sizes = np.bincount(bin_of_sorted, minlength=n_bins)
    bounds = np.concatenate(([0], np.cumsum(sizes))).tolist()
    # Millions of small lists would trigger the cyclic collector over and over; they hold no
    # cycles, so collection is paused while they are built.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return [items[bounds[b] : bounds[b + 1]] for b in range(n_bins)]
    finally:
        if was_enabled:
            gc.enable()


def packing_summary(lengths: Sequence[int] | np.ndarray, bins: Sequence[Sequence[int]], capacity: int) -> dict:
    """Bins, lower bound, their ratio and the token utilisation, as a plain dict."""
    lb = lower_bound(lengths, capacity)
    return {
        "items": int(len(lengths)),
        "bins": len(bins),
        "lower_bound": lb,
        "ratio": (len(bins) / lb) if lb else math.nan,
        "utilisation": utilisation(bins, lengths, capacity),
    }

