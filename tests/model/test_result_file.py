"""The result file's arrays: float32 outputs, float16 distogram logits, labels as given."""

import numpy as np

from folding.model.result_file import result_arrays


def test_distogram_logits_float16_others_float32_none_left_out():
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 8.0, (30, 30, 64)).astype(np.float32)
    arrays = result_arrays(
        {"distogram_logits": logits, "plddt": rng.uniform(0, 100, 30), "ptm": None,
         "distogram_bin_edges": np.linspace(2.3125, 21.6875, 63)},
        {"model_name": np.str_("model_1_ptm"), "seed": np.int64(4),
         "aatype": np.zeros(30, np.int32)})
    assert "ptm" not in arrays
    assert arrays["distogram_logits"].dtype == np.float16
    assert arrays["plddt"].dtype == np.float32
    assert arrays["distogram_bin_edges"].dtype == np.float32
    assert arrays["aatype"].dtype == np.int32 and arrays["seed"].dtype == np.int64
    assert str(arrays["model_name"]) == "model_1_ptm"
    # float16 keeps each logit to within 1 part in 2,000 of its size, and so (logits up
    # to about 40 here) each bin's probability to within 1e-2.
    stored = arrays["distogram_logits"].astype(np.float32)
    assert np.max(np.abs(stored - logits) / np.maximum(np.abs(logits), 1.0)) < 5e-4

    def softmax(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    assert np.max(np.abs(softmax(stored) - softmax(logits))) < 1e-2
