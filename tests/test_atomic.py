"""Atomic writes: complete files only, usual permissions, nothing left behind on failure."""

import os

import pytest

from folding import atomic


def test_write_json_and_permissions(tmp_path):
    path = tmp_path / "sub" / "x.json"
    atomic.write_json(path, {"a": 1})
    assert path.read_text().strip().startswith("{")
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)


def test_failure_leaves_nothing(tmp_path):
    path = tmp_path / "x.txt"
    with pytest.raises(RuntimeError), atomic.atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_save_npz_keeps_name(tmp_path):
    import numpy as np

    path = tmp_path / "f.npz"
    atomic.save_npz(path, {"a": np.arange(3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.npz"]
    assert np.load(path)["a"].tolist() == [0, 1, 2]
