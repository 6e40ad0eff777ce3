"""Model-input processing: raw features -> the model's processed features (NumPy).

Public API::

    from folding.data.processing import (
        ProcessingConfig, Padding, REFERENCE_PADDING, processing_config_for,
        load_raw_features, process_features,
    )
    raw = load_raw_features("features.pkl")          # or our raw .npz
    config = processing_config_for("model_1_ptm")    # Suppl. Table 5 data settings
    batch = process_features(raw, config, seed=0, num_recycle=3)   # compact padding
    batch_r = {k: v[r] for k, v in batch.items()}    # recycling iteration r
"""

from folding.data.processing.config import (
    COMPACT_PADDING,
    REFERENCE_PADDING,
    MaskedMsaConfig,
    Padding,
    ProcessingConfig,
    processing_config_for,
)
from folding.data.processing.msa_sampling import MsaSample, draw_msa_sample
from folding.data.processing.pipeline import draw_msa_samples, process_features
from folding.data.processing.raw import RawFeatures, load_raw_features

__all__ = [
    "COMPACT_PADDING",
    "REFERENCE_PADDING",
    "MaskedMsaConfig",
    "MsaSample",
    "Padding",
    "ProcessingConfig",
    "RawFeatures",
    "draw_msa_sample",
    "draw_msa_samples",
    "load_raw_features",
    "process_features",
    "processing_config_for",
]
