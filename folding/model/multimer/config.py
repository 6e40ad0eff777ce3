"""The five AlphaFold-Multimer v3 models: one frozen config each.

The v3 models share one architecture (Evans et al. 2021, AlphaFold 2.3): 508 MSA
cluster centres per recycling pass and 2048 extra MSA rows (1152 for models 4 and 5),
up to 20 recycling passes stopped early once the CA distances move by less than
0.5 Angstrom, templates for every model. A name may carry ``_pred_K``, AlphaFold's
name of the K-th prediction (seed) of a model: ``model_1_multimer_v3_pred_2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from folding.errors import InputError
from folding.model.global_config import GlobalConfig
from folding.model.multimer.alphafold import MultimerNetworkConfig
from folding.model.multimer.sampling import MsaSamplingConfig

MULTIMER_MODEL_NAMES: tuple[str, ...] = tuple(f"model_{i}_multimer_v3" for i in range(1, 6))
_NAME = re.compile(r"^model_([1-5])_multimer_v3(?:_pred_(\d+))?$")
_LOOKS_MULTIMER = re.compile(r"multimer")


def is_multimer_model_name(name: str) -> bool:
    """Whether ``name`` asks for a multimer model (valid or not: errors come later)."""
    return bool(_LOOKS_MULTIMER.search(name))


def parse_model_name(name: str) -> tuple[str, int | None]:
    """(model name, prediction index or None) of ``model_N_multimer_v3[_pred_K]``."""
    match = _NAME.match(name)
    if match is None:
        raise InputError(f"unknown multimer model name {name!r}: use one of "
                         f"{', '.join(MULTIMER_MODEL_NAMES)} (optionally with _pred_K); "
                         "the v1 and v2 multimer parameter files are not supported")
    index = match.group(2)
    return f"model_{match.group(1)}_multimer_v3", None if index is None else int(index)


@dataclass(frozen=True)
class MultimerModelConfig:
    """A named multimer model: its network, its MSA sampling and how it is run.

    Attributes:
        name: ``model_1_multimer_v3`` ... ``model_5_multimer_v3``.
        network: the architecture.
        sampling: cluster centres, extra rows and masking of each pass.
        global_config: dtype, chunking budget, inference dropout.
        num_recycle: recycling passes after the first (AlphaFold 2.3: 20).
        recycle_early_stop_tolerance: stop once the CA-CA distances change by less than
            this between passes (Angstrom; AlphaFold 2.3: 0.5; 0 never stops early).
    """

    name: str
    network: MultimerNetworkConfig = field(default_factory=MultimerNetworkConfig)
    sampling: MsaSamplingConfig = field(default_factory=MsaSamplingConfig)
    global_config: GlobalConfig = field(default_factory=GlobalConfig)
    num_recycle: int = 20
    recycle_early_stop_tolerance: float = 0.5

    @property
    def uses_templates(self) -> bool:
        return self.network.trunk.template.enabled

    def with_recycles(self, num_recycle: int) -> MultimerModelConfig:
        """The same model with another number of recycling passes."""
        if num_recycle < 0:
            raise InputError(f"the number of recycles must be 0 or more, not {num_recycle}")
        return replace(self, num_recycle=num_recycle)


def multimer_model_config(name: str, global_config: GlobalConfig | None = None
                          ) -> MultimerModelConfig:
    """The config of a multimer v3 model by its official name (``_pred_K`` allowed)."""
    base, _ = parse_model_name(name)
    number = int(base.split("_")[1])
    sampling = MsaSamplingConfig(num_msa=508, num_extra_msa=1152 if number in (4, 5) else 2048)
    return MultimerModelConfig(name=base, sampling=sampling,
                               global_config=global_config or GlobalConfig())
