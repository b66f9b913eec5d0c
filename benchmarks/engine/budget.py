"""The parameter budget (LRGB's rule): the widest model that stays within a parameter count.

Parameters grow monotonically with the width d, so the width is found by bisection over the
widths the model accepts. Those are taken to be the multiples of the smallest accepted width
(divisibility rules such as d % heads == 0 give exactly that).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from benchmarks.core.errors import ConfigError, require

MAX_WIDTH = 1 << 16


def width_for_budget(count: Callable[[int], int], budget: int) -> tuple[int, int]:
    """The largest accepted width d with count(d) <= budget, and count(d).

    Args:
        count: width -> trainable parameters of the whole network; raises ConfigError for a
            width the model does not accept.
        budget: the most parameters allowed.
    """
    count = functools.cache(count)  # each width is built once (accepts, bisection, result)
    step = next((d for d in range(1, 257) if accepts(count, d)), None)
    require(step is not None, "budget", "the model accepts no width in 1..256")
    smallest = count(step)
    require(
        smallest <= budget,
        "budget",
        f"{budget:,} parameters is below the smallest model ({smallest:,} at width {step})",
    )
    low, high = 1, 2  # multiples of step: count(low * step) <= budget
    while count(high * step) <= budget:
        low, high = high, high * 2
        require(high * step <= MAX_WIDTH, "budget", f"no width up to {MAX_WIDTH} reaches it")
    while high - low > 1:
        middle = (low + high) // 2
        if count(middle * step) <= budget:
            low = middle
        else:
            high = middle
    return low * step, count(low * step)


def accepts(count: Callable[[int], int], width: int) -> bool:
    try:
        count(width)
    except (ConfigError, ValueError):
        return False
    return True
