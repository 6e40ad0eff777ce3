"""The result file of one model run (``result_<model>.npz``): its arrays and their dtypes.

Monomer and multimer runs store the same kinds of arrays: the model's outputs (atom
positions, pLDDT, the distogram, PAE and the TM scores), the residues they describe and
labels saying how the run was made (model, parameters, seed, dtype). Every numeric output
is stored in float32, except the distogram (Suppl. 1.9.8): its [L, L, 64] logits are by far
the largest array (0.95 GiB in float32 at L = 2,000, 8.6 GiB at L = 6,000, once per model and
prediction), so they are stored in float16, as ColabFold stores its results, with the
63 bin edges (Angstrom) beside them (``distogram_bin_edges``) so the file is readable on its
own. float16 keeps a logit to about 1 part in 2,000 (a bin's probability to within 1e-2
for logits up to 40).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: Outputs stored in float16 rather than float32 (see the module docstring).
FLOAT16_OUTPUTS = frozenset({"distogram_logits"})


def result_arrays(outputs: Mapping[str, Any], labels: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The arrays of a result file: ``outputs`` (model outputs, on the device or the host;
    None entries are left out) in float32, or float16 for :data:`FLOAT16_OUTPUTS`, then
    ``labels`` (residue indices, names, seeds) as given."""
    arrays: dict[str, np.ndarray] = {}
    for key, value in outputs.items():
        if value is None:
            continue
        dtype = np.float16 if key in FLOAT16_OUTPUTS else np.float32
        arrays[key] = np.asarray(value).astype(dtype, copy=False)
    arrays.update({key: np.asarray(value) for key, value in labels.items()})
    return arrays
