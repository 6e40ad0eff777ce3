"""The early-stopping criterion (CA distance change) computed on the host in row blocks equals
the dense float64 formula (float32 distances, float64 sums), for any block size."""

from __future__ import annotations

import numpy as np
import pytest

from folding.common.atoms import ATOM37_INDEX
from folding.model.runner import ca_distance_change


def _dense(previous, current, mask):
    def distances(x):
        ca = x[:, ATOM37_INDEX["CA"]].astype(np.float64)
        return np.sqrt(np.sum(np.square(ca[:, None] - ca[None, :]), axis=-1))

    pair = mask[:, None] * mask[None, :]
    change = np.square(distances(previous) - distances(current))
    return np.sqrt(np.sum(change * pair) / np.sum(pair) + 1e-8)


@pytest.mark.parametrize("length,block", [(1, 256), (37, 5), (300, 256), (300, 1000)])
def test_blocked_change_equals_dense(length, block):
    rng = np.random.default_rng(length)
    previous = rng.normal(scale=10, size=(length, 37, 3)).astype(np.float32)
    current = previous + rng.normal(scale=0.5, size=previous.shape).astype(np.float32)
    mask = (rng.random(length) < 0.8).astype(np.float32)
    mask[0] = 1
    got = ca_distance_change(previous, current, mask, block=block)
    assert isinstance(got, float)
    assert got == pytest.approx(_dense(previous, current, mask), rel=1e-5)


def test_zero_structure_and_identical_structures():
    rng = np.random.default_rng(0)
    current = rng.normal(scale=10, size=(50, 37, 3)).astype(np.float32)
    mask = np.ones(50, np.float32)
    assert ca_distance_change(current, current, mask) == pytest.approx(1e-4)  # sqrt(1e-8)
    zero = np.zeros_like(current)
    assert ca_distance_change(zero, current, mask) == pytest.approx(
        _dense(zero, current, mask), rel=1e-5)
