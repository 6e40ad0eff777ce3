"""The ten monomer models of AlphaFold2 (CASP14): one frozen config each.

Suppl. Table 5: the five models differ in whether they use templates (models 1 and 2,
with the template torsion-angle MSA rows) and in the size of the extra MSA (5120 for
models 1, 3 and 4; 1024 for 2 and 5). The ``_ptm`` variants were fine-tuned with the
predicted aligned error head, from which PAE and pTM come. Every network
hyperparameter has its paper default beside its module; this table only records what
differs between the models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from folding.data.processing.config import ProcessingConfig, processing_config_for
from folding.errors import InputError
from folding.model.alphafold import HeadsConfig, NetworkConfig
from folding.model.global_config import GlobalConfig
from folding.model.heads import PredictedAlignedErrorConfig
from folding.model.template import TemplateConfig
from folding.model.trunk import TrunkConfig

MONOMER_MODEL_NAMES: tuple[str, ...] = tuple(
    f"model_{i}{suffix}" for suffix in ("", "_ptm") for i in range(1, 6))
_MODEL_NAME = re.compile(r"^model_([1-5])(_ptm)?$")


@dataclass(frozen=True)
class ModelConfig:
    """A named model: its network, its data processing and how it is run.

    Attributes:
        name: ``model_1`` ... ``model_5``, optionally with ``_ptm``.
        network: the architecture (trunk, structure module, heads).
        data: the processing of raw features for this model (Suppl. Table 5).
        global_config: dtype, chunking budget, inference dropout.
        num_recycle: recycling iterations after the first (Suppl. 1.10; 3 at inference).
        recycle_early_stop_tolerance: stop recycling once the root-mean-square change of
            the CA-CA distances between two iterations falls below this (Angstrom); 0
            never stops early (AlphaFold), ColabFold uses about 0.5.
    """

    name: str
    network: NetworkConfig = field(default_factory=NetworkConfig)
    data: ProcessingConfig = field(default_factory=ProcessingConfig)
    global_config: GlobalConfig = field(default_factory=GlobalConfig)
    num_recycle: int = 3
    recycle_early_stop_tolerance: float = 0.0

    @property
    def uses_templates(self) -> bool:
        return self.network.trunk.template.enabled

    @property
    def has_pae_head(self) -> bool:
        return self.network.heads.predicted_aligned_error is not None

    def with_recycles(self, num_recycle: int) -> ModelConfig:
        """The same model with another number of recycling iterations."""
        if num_recycle < 0:
            raise InputError(f"the number of recycles must be 0 or more, not {num_recycle}")
        return replace(self, num_recycle=num_recycle, data=self.data.with_num_recycle(num_recycle))


def model_config(name: str, global_config: GlobalConfig | None = None,
                 num_recycle: int = 3) -> ModelConfig:
    """The config of a monomer model by its official name (Suppl. Table 5)."""
    match = _MODEL_NAME.match(name)
    if match is None:
        raise InputError(f"unknown model name {name!r}: use one of "
                         f"{', '.join(MONOMER_MODEL_NAMES)}")
    number, ptm = int(match.group(1)), match.group(2) is not None
    with_templates = number in (1, 2)
    network = NetworkConfig(
        trunk=TrunkConfig(template=TemplateConfig(enabled=with_templates,
                                                  embed_torsion_angles=with_templates)),
        heads=HeadsConfig(predicted_aligned_error=PredictedAlignedErrorConfig() if ptm else None),
    )
    return ModelConfig(name=name, network=network,
                       data=processing_config_for(name, num_recycle),
                       global_config=global_config or GlobalConfig(),
                       num_recycle=num_recycle)
