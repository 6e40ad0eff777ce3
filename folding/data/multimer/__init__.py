"""AlphaFold-Multimer's data pipeline: complexes of several protein chains.

Modules, one concept each:

* :mod:`~folding.data.multimer.inputs`: FASTA records -> complexes (``A:B`` records,
  several records under one name, ``copies=N``), checked before any search;
* :mod:`~folding.data.multimer.chains`: chain ids, entities and copies
  (:class:`~folding.data.multimer.chains.Assembly`);
* :mod:`~folding.data.multimer.chain_features`: a chain's monomer features in the
  multimer layout, its UniProt pairing alignment, per-chain ids;
* :mod:`~folding.data.multimer.pairing`: pairing MSA rows across chains by species;
* :mod:`~folding.data.multimer.merge`: cropping and merging chains (paired rows on top,
  unpaired rows block-diagonal);
* :mod:`~folding.data.multimer.complex_features`: the whole sequence, ending in the
  model's raw multimer features;
* :mod:`~folding.data.multimer.pipeline`: search folders -> features
  (:func:`~folding.data.multimer.pipeline.build_multimer_features`);
* :mod:`~folding.data.multimer.cli`: ``folding multimer`` (checking inputs, building features).
"""

from folding.data.multimer.chains import MAX_CHAINS, Assembly, AssemblyChain
from folding.data.multimer.complex_features import complex_features
from folding.data.multimer.pipeline import (
    MAX_UNIPROT_HITS,
    MultimerFeatures,
    TemplateSource,
    build_multimer_features,
)

__all__ = [
    "MAX_CHAINS",
    "MAX_UNIPROT_HITS",
    "Assembly",
    "AssemblyChain",
    "MultimerFeatures",
    "TemplateSource",
    "build_multimer_features",
    "complex_features",
]
