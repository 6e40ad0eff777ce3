"""Settings of the model-input processing, with the paper's defaults.

The values are the data side of the AlphaFold2 supplement: section 1.2.7 (MSA
clustering and the masked-MSA corruption it applies to the cluster centres),
section 1.10 (a fresh MSA sample for every recycling iteration) and Suppl. Table 5
(which of the five CASP14 models use templates, 5120 or 1024 extra sequences, and
512 cluster centres less the 4 template rows for the template models).

:class:`ProcessingConfig` holds what changes the *distribution* of the processed
features; :class:`Padding` holds how far they are padded, which changes their
shapes but not what the model computes from them (padded rows are masked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from folding.errors import InputError


@dataclass(frozen=True)
class MaskedMsaConfig:
    """The masked-MSA (BERT-style) corruption of the cluster centres (supplement 1.2.7).

    Each centre position is selected with probability ``replace_fraction``; a selected
    position becomes a uniformly drawn standard residue (``uniform_prob``), a residue
    drawn from the MSA profile of its column (``profile_prob``), stays the same
    (``same_prob``) or becomes the mask token (the remaining probability).
    """

    uniform_prob: float = 0.1
    profile_prob: float = 0.1
    same_prob: float = 0.1
    replace_fraction: float = 0.15

    @property
    def mask_token_prob(self) -> float:
        """Probability that a selected position becomes the mask token (0.7 by default)."""
        return 1.0 - self.uniform_prob - self.profile_prob - self.same_prob

    def __post_init__(self) -> None:
        probs = (self.uniform_prob, self.profile_prob, self.same_prob, self.replace_fraction)
        if min(probs) < 0 or max(probs) > 1 or self.mask_token_prob < -1e-9:
            raise ValueError(f"masked-MSA probabilities out of range: {self}")


@dataclass(frozen=True)
class ProcessingConfig:
    """Data settings of one model (AlphaFold2 supplement 1.2.7, 1.10 and Suppl. Table 5).

    Defaults are those of models 3-5 with ``max_extra_msa`` 1024 (model 5); use
    :func:`processing_config_for` for a named model.
    """

    #: Cluster centres sampled from the MSA, the query always first (N_clust).
    max_msa_clusters: int = 512
    #: Non-centre sequences kept as the extra MSA (N_extra_seq).
    max_extra_msa: int = 1024
    #: Templates kept, the first ones in input order (the featuriser sorts them).
    max_templates: int = 4
    use_templates: bool = False
    #: Models 1 and 2 keep ``max_msa_clusters - max_templates`` centres (508).
    reduce_msa_clusters_by_max_templates: bool = False
    masked_msa: MaskedMsaConfig = field(default_factory=MaskedMsaConfig)
    #: Recycling iterations after the first; processed features get num_recycle + 1 slices.
    num_recycle: int = 3
    #: Draw a fresh cluster sample, BERT mask and extra MSA for every recycling iteration.
    resample_msa_in_recycling: bool = True

    def __post_init__(self) -> None:
        if self.num_msa_clusters < 1:
            raise ValueError(f"at least one MSA cluster is needed: {self}")
        if self.max_extra_msa < 0 or self.max_templates < 0 or self.num_recycle < 0:
            raise ValueError(f"negative size in {self}")

    @property
    def num_msa_clusters(self) -> int:
        """Cluster centres actually sampled: 508 for models 1 and 2, 512 otherwise."""
        if self.reduce_msa_clusters_by_max_templates:
            return self.max_msa_clusters - self.max_templates
        return self.max_msa_clusters

    def with_num_recycle(self, num_recycle: int) -> ProcessingConfig:
        """The same settings with another number of recycling iterations."""
        return replace(self, num_recycle=num_recycle)


@dataclass(frozen=True)
class Padding:
    """How far the MSA dimensions of processed features are padded.

    ``reference_shapes=True`` pads exactly as AlphaFold does: clusters to
    :attr:`ProcessingConfig.num_msa_clusters` and the extra MSA to
    :attr:`ProcessingConfig.max_extra_msa` (5120 rows even for a 30-sequence MSA).
    That is what parity tests and AlphaFold-compatible outputs need.

    The default (compact) pads the clusters and the extra MSA only to the rows the MSA
    fills, rounded up to a multiple of ``row_multiple`` (so that the five models of a
    target, and targets of similar depth, share compiled shapes) and never beyond the
    reference's sizes; the extra MSA keeps at least one (masked) row so that no array
    is empty. Padded rows are masked out everywhere in the model, so compact padding
    changes no prediction, only the work done. Templates are always padded to
    ``max_templates`` and residues are never padded here. (With ``max_extra_msa = 0``
    AlphaFold drops the extra-MSA features; here they keep one masked row instead.)
    """

    reference_shapes: bool = False
    row_multiple: int = 64

    def __post_init__(self) -> None:
        if self.row_multiple < 1:
            raise ValueError(f"row_multiple must be at least 1, got {self.row_multiple}")

    def rows(self, needed: int, reference: int) -> int:
        """Padded row count for ``needed`` filled rows when AlphaFold would pad to ``reference``."""
        if self.reference_shapes:
            return max(reference, 1)
        rounded = -(-max(needed, 1) // self.row_multiple) * self.row_multiple
        return max(1, min(rounded, reference))


REFERENCE_PADDING = Padding(reference_shapes=True)
COMPACT_PADDING = Padding()

_MODEL_NAME = re.compile(r"^model_([1-5])(_ptm)?$")


def processing_config_for(model_name: str, num_recycle: int = 3) -> ProcessingConfig:
    """The data settings of a monomer CASP14 model (Suppl. Table 5), e.g. ``model_1_ptm``.

    Models 1 and 2 use templates and keep 508 cluster centres; models 1, 3 and 4 keep
    5120 extra sequences and models 2 and 5 keep 1024. The pTM variants share the data
    settings of the model they were fine-tuned from.
    """
    match = _MODEL_NAME.match(model_name)
    if match is None:
        raise InputError(
            f"unknown model name {model_name!r}: use model_1 ... model_5, optionally with _ptm"
        )
    number = int(match.group(1))
    with_templates = number in (1, 2)
    return ProcessingConfig(
        max_extra_msa=5120 if number in (1, 3, 4) else 1024,
        use_templates=with_templates,
        reduce_msa_clusters_by_max_templates=with_templates,
        num_recycle=num_recycle,
    )
