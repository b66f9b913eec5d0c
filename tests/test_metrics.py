"""Over-squashing measurements: capacity in bits and batched sensitivity (SPEC.md section 5)."""

import math

import numpy as np
import pandas as pd
import pytest

from benchmarks.metrics.capacity import (
    capacity_table,
    capacity_threshold,
    information_bits,
    peak_stored_bits,
    stored_bits,
)

# ---------------------------------------------------------------------------------------------
# capacity


@pytest.mark.parametrize("classes", [2, 4, 8, 64])
def test_information_is_zero_at_chance_full_at_one_monotone_between(classes):
    assert information_bits(1 / classes, classes) == pytest.approx(0.0, abs=1e-12)
    assert information_bits(1.0, classes) == pytest.approx(math.log2(classes))
    acc = np.linspace(1 / classes, 1, 200)
    bits = information_bits(acc, classes)
    assert np.all(np.diff(bits) > 0)
    assert information_bits(0.0, classes) == 0.0  # clipped below chance
    raw = information_bits(0.0, classes, clip=False)  # the formula: which class it is not
    assert raw == pytest.approx(math.log2(classes / (classes - 1)))
    assert np.all(information_bits(np.linspace(0, 1, 101), classes, clip=False) >= 0)


def test_information_matches_binary_entropy_for_two_classes():
    a = 0.8
    entropy = -(a * math.log2(a) + (1 - a) * math.log2(1 - a))
    assert information_bits(a, 2) == pytest.approx(1 - entropy)


def test_information_keeps_shape_and_series_index():
    acc = pd.Series([0.25, 1.0, np.nan], index=["a", "b", "c"])
    bits = information_bits(acc, 4)
    assert isinstance(bits, pd.Series) and list(bits.index) == ["a", "b", "c"]
    assert bits["a"] == 0 and bits["b"] == pytest.approx(2.0) and np.isnan(bits["c"])
    assert isinstance(information_bits(0.5, 4), float)
    with pytest.raises(ValueError, match="num_classes"):
        information_bits(0.5, 1)
    with pytest.raises(ValueError, match="accuracy"):
        information_bits(1.5, 4)


def test_stored_bits_is_keys_times_information():
    assert stored_bits(1.0, 8, 8) == pytest.approx(24.0)
    np.testing.assert_allclose(
        stored_bits(np.array([1.0, 0.5]), 16, np.array([16, 32])),
        [64.0, 32 * information_bits(0.5, 16)],
    )


def test_capacity_threshold_interpolates_in_log_n():
    sizes = [4, 8, 16, 32]
    # 0.9 halfway between 0.98 at N=8 and 0.82 at N=16 -> sqrt(8 * 16)
    assert capacity_threshold(sizes, [1.0, 0.98, 0.82, 0.4]) == pytest.approx(math.sqrt(128))
    assert capacity_threshold(sizes[::-1], [0.4, 0.82, 0.98, 1.0]) == pytest.approx(math.sqrt(128))
    assert capacity_threshold(sizes, [1.0, 0.9, 0.5, 0.4]) == pytest.approx(8.0)  # on the level
    assert capacity_threshold(sizes, [1, 1, 1, 0.95]) == 32.0  # all above: the largest N
    assert math.isnan(capacity_threshold(sizes, [0.5, 0.4, 0.3, 0.2]))  # none above
    assert capacity_threshold(sizes, [1.0, 0.8, 0.95, 0.2]) > 16  # the last point above wins
    assert capacity_threshold(pd.Series(sizes), pd.Series([1.0, np.nan, 0.5, 0.4])) > 4
    with pytest.raises(ValueError, match="unique"):
        capacity_threshold([4, 4], [1.0, 0.9])


def test_peak_stored_bits_and_table():
    sizes, accs = [4, 8, 16], [1.0, 1.0, 0.5]
    assert peak_stored_bits(sizes, accs) == pytest.approx(
        max(8.0, 24.0, 16 * information_bits(0.5, 16))
    )
    runs = pd.DataFrame(
        {
            "model": ["a"] * 6 + ["b"] * 3,
            "size/num_keys": [4, 4, 8, 8, 16, 16, 4, 8, 16],
            "score": [1.0, 1.0, 1.0, 0.96, 0.5, 0.7, 0.5, 0.3, 0.1],
        }
    )
    table = capacity_table(runs, by=["model"])
    assert table.loc["a", "capacity_n"] == pytest.approx(
        capacity_threshold([4, 8, 16], [1, 0.98, 0.6])
    )
    expected = max(stored_bits(1.0, 4, 4), stored_bits(0.98, 8, 8), stored_bits(0.6, 16, 16))
    assert table.loc["a", "peak_bits"] == pytest.approx(expected)
    assert table.loc["a", "peak_bits_n"] == 16
    assert table.loc["a", "seeds"] == 6 and table.loc["a", "sizes"] == 3
    assert math.isnan(table.loc["b", "capacity_n"])
