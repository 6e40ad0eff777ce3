"""A complex's searches -> its raw multimer features (AlphaFold-Multimer's data pipeline).

For each distinct sequence of the complex (the first chain that has it stands for its
copies), from that chain's search folder:

* the monomer MSA: ``uniref90_hits.sto`` (10,000 rows), ``bfd_uniref_hits.a3m`` (or
  ``bfd_uniclust_hits.a3m`` / ``small_bfd_hits.sto``) and ``mgnify_hits.sto`` (501 rows),
  merged and deduplicated as for a monomer (:mod:`folding.data.features`);
* for heteromers, the pairing alignment ``uniprot_hits.sto`` (jackhmmer against UniProt,
  at most :data:`MAX_UNIPROT_HITS` rows; ``folding search --db-name uniprot`` writes it);
* templates from hmmsearch against ``pdb_seqres.txt``: run here
  (:attr:`TemplateSource.pdb_seqres`) from ``uniref90_hits.sto``, or read from the folder's
  ``pdb_hits.sto``; featurised from the mmCIF folder (up to 20 per chain; the first 4 are
  used). Without templates each chain gets AlphaFold's empty hmmsearch result (one
  all-zero template).

Then :func:`~folding.data.multimer.complex_features.complex_features` pairs, crops and
merges them. Everything that can be wrong with the inputs (the chains, the folders, the
files each chain needs, the template database) is checked before any file is parsed or
any search runs.

    from folding.data.multimer import TemplateSource, build_multimer_features
    result = build_multimer_features(
        sequences=["MKV...", "GSH..."], msa_dirs=["msas/A", "msas/B"],
        templates=TemplateSource(mmcif_dir=Path("pdb_mmcif/mmcif_files"),
                                 max_template_date="2021-11-01",
                                 pdb_seqres=Path("pdb_seqres/pdb_seqres.txt")))
    result.features          # AlphaFold's raw multimer feature dict
    result.assembly.chains   # chain ids, entities and residue ranges, in feature order
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from folding.common.atoms import NUM_ATOM37
from folding.data.features import FeatureDict, find_msa_files, raw_features, read_msas
from folding.data.multimer.chain_features import (
    assembly_chain_features,
    convert_monomer_features,
    pairing_msa_features,
)
from folding.data.multimer.chains import Assembly, AssemblyChain
from folding.data.multimer.complex_features import complex_features
from folding.data.parsers.read import read_msa
from folding.data.templates.database import TemplateDatabase, parse_max_template_date
from folding.data.templates.featurise import (
    MAX_TEMPLATE_HITS,
    NUM_TEMPLATE_AATYPES,
    TemplateFeatures,
    TemplateFeaturiser,
)
from folding.data.templates.hits import parse_hmmsearch_sto
from folding.data.templates.search import search_templates
from folding.data.tools.kalign import Kalign
from folding.errors import InputError, MissingResourceError

logger = logging.getLogger(__name__)

#: Rows of ``uniprot_hits.sto`` read for pairing (AlphaFold's ``max_uniprot_hits``).
MAX_UNIPROT_HITS = 50_000
UNIPROT_FILE = "uniprot_hits.sto"
TEMPLATE_HITS_FILE = "pdb_hits.sto"
TEMPLATE_QUERY_FILE = "uniref90_hits.sto"


@dataclass(frozen=True)
class TemplateSource:
    """Where each chain's templates come from.

    Attributes:
        mmcif_dir: the template database's ``pdb_mmcif/mmcif_files`` folder.
        max_template_date: ``YYYY-MM-DD``; entries released later are not used.
        pdb_seqres: ``pdb_seqres.txt``: run hmmsearch for each chain; None: read each
            chain folder's ``pdb_hits.sto``.
        obsolete_pdbs: PDB's ``obsolete.dat`` (default: beside ``mmcif_dir`` if there).
        kalign_binary: the kalign program (default: on PATH).
        cpus: threads for hmmsearch.
    """

    mmcif_dir: Path
    max_template_date: str
    pdb_seqres: Path | None = None
    obsolete_pdbs: Path | None = None
    kalign_binary: str | None = None
    cpus: int = 2


@dataclass(frozen=True)
class ChainSearches:
    """What was read for one distinct chain: the files, the MSA depths, the templates."""

    chain_id: str
    msa_dir: Path
    msa_rows: int
    pairing_rows: int | None
    templates: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class MultimerFeatures:
    """A complex's raw multimer features, its chains in feature order and what was read."""

    features: FeatureDict
    assembly: Assembly
    searches: tuple[ChainSearches, ...]


def _chain_folders(
    assembly: Assembly, msa_dirs: Sequence[str | os.PathLike[str] | None]
) -> dict[str, Path]:
    """The search folder of each entity's first chain (chain id -> folder), checked."""
    if len(msa_dirs) != len(assembly):
        raise InputError(f"{len(assembly)} chains but {len(msa_dirs)} MSA folders; give one "
                         "folder per chain (copies of a sequence may repeat the first's)")
    by_id = {chain.chain_id: msa_dirs[i] for i, chain in
             enumerate(assembly.in_input_order())}
    folders = {}
    for chain in assembly.entity_representatives():
        given = by_id[chain.chain_id]
        if given is None:
            raise InputError(f"chain {chain.chain_id} has no MSA folder; give the folder of "
                             "its searches")
        folder = Path(given)
        if not folder.is_dir():
            raise InputError(f"chain {chain.chain_id}: MSA folder {folder} not found; run the "
                             "chain's MSA searches first")
        folders[chain.chain_id] = folder
    return folders


def _check_files(assembly: Assembly, folders: dict[str, Path],
                 templates: TemplateSource | None) -> None:
    for chain in assembly.entity_representatives():
        folder = folders[chain.chain_id]
        find_msa_files(folder)
        needed = []
        if assembly.is_heteromer:
            needed.append((UNIPROT_FILE, "run `folding search --db-name uniprot` for the "
                           "chain (pairing rows by species needs it)"))
        if templates is not None:
            if templates.pdb_seqres is None:
                needed.append((TEMPLATE_HITS_FILE, "run `folding templates search --tool "
                               "hmmsearch`, or give the pdb_seqres.txt to search"))
            else:
                needed.append((TEMPLATE_QUERY_FILE, "the template search starts from it; run "
                               "the UniRef90 search first"))
        for name, fix in needed:
            if not (folder / name).is_file():
                raise InputError(f"chain {chain.chain_id}: {folder} has no {name}; {fix}")


def _no_templates(length: int) -> TemplateFeatures:
    return TemplateFeatures(
        aatype=np.zeros((0, length, NUM_TEMPLATE_AATYPES), np.float32),
        all_atom_positions=np.zeros((0, length, NUM_ATOM37, 3), np.float32),
        all_atom_masks=np.zeros((0, length, NUM_ATOM37), np.float32),
        domain_names=(), sequences=(), sum_probs=np.zeros(0, np.float32), search="hmmsearch")


class _Templates:
    """Template search and featurisation for the chains of one complex."""

    def __init__(self, source: TemplateSource) -> None:
        self.source = source
        date = parse_max_template_date(source.max_template_date)
        if source.pdb_seqres is not None and not Path(source.pdb_seqres).is_file():
            raise MissingResourceError(f"pdb_seqres file {source.pdb_seqres} not found; give "
                                       "the template database's pdb_seqres/pdb_seqres.txt")
        self.featuriser = TemplateFeaturiser(
            TemplateDatabase.open(source.mmcif_dir, source.obsolete_pdbs), date,
            Kalign.locate(source.kalign_binary), "hmmsearch", MAX_TEMPLATE_HITS)

    def features(self, chain: AssemblyChain, folder: Path) -> TemplateFeatures:
        if self.source.pdb_seqres is not None:
            found = search_templates(folder / TEMPLATE_QUERY_FILE, "hmmsearch",
                                     [self.source.pdb_seqres], cpus=self.source.cpus)
            text = found.text
            logger.info("chain %s: hmmsearch found %d template hits in %.1f s",
                        chain.chain_id, found.num_hits, found.seconds)
        else:
            text = (folder / TEMPLATE_HITS_FILE).read_text(errors="replace")
        hits = parse_hmmsearch_sto(text, chain.sequence) if text else []
        return self.featuriser.featurise(chain.sequence, hits)


def _entity_features(
    chain: AssemblyChain, folder: Path, heteromer: bool, templates: _Templates | None,
    max_uniprot_hits: int,
) -> tuple[FeatureDict, ChainSearches]:
    msas = read_msas(find_msa_files(folder), chain.sequence)
    found = (templates.features(chain, folder) if templates is not None
             else _no_templates(len(chain.sequence)))
    monomer = raw_features(chain.sequence, f"chain_{chain.chain_id}", msas,
                           found.raw_features())
    pairing_rows = None
    if heteromer:
        uniprot = read_msa(folder / UNIPROT_FILE, max_uniprot_hits)
        if uniprot.query != chain.sequence:
            raise InputError(f"{folder / UNIPROT_FILE}: its first row is not chain "
                             f"{chain.chain_id}'s sequence; the alignment belongs to another "
                             "target, delete it and search again")
        pairing = pairing_msa_features(uniprot)
        pairing_rows = int(pairing["msa_all_seq"].shape[0])
        monomer.update(pairing)
    searches = ChainSearches(chain.chain_id, folder, int(monomer["msa"].shape[0]),
                             pairing_rows, found.domain_names)
    logger.info("chain %s: %d MSA rows%s, templates: %s", chain.chain_id, searches.msa_rows,
                f", {pairing_rows} UniProt rows for pairing" if heteromer else "",
                ", ".join(found.domain_names) or "none")
    return convert_monomer_features(monomer, chain.chain_id), searches


def read_entity_features(
    assembly: Assembly,
    msa_dirs: Sequence[str | os.PathLike[str] | None],
    templates: TemplateSource | None,
    max_uniprot_hits: int = MAX_UNIPROT_HITS,
) -> tuple[dict[int, FeatureDict], tuple[ChainSearches, ...]]:
    """Each entity's converted features (entity id -> features) and what was read.

    Everything is checked (folders, files, template database) before any file is parsed
    or any search runs.
    """
    folders = _chain_folders(assembly, msa_dirs)
    _check_files(assembly, folders, templates)
    template_search = _Templates(templates) if templates is not None else None
    entity_features = {}
    searches = []
    for chain in assembly.entity_representatives():
        features, searched = _entity_features(chain, folders[chain.chain_id],
                                              assembly.is_heteromer, template_search,
                                              max_uniprot_hits)
        entity_features[chain.entity_id] = features
        searches.append(searched)
    return entity_features, tuple(searches)


def build_multimer_features(
    sequences: Sequence[str],
    msa_dirs: Sequence[str | os.PathLike[str] | None],
    templates: TemplateSource | None,
    descriptions: Sequence[str] | None = None,
    max_uniprot_hits: int = MAX_UNIPROT_HITS,
) -> MultimerFeatures:
    """The raw multimer features of the complex whose chains are ``sequences`` (input order).

    ``msa_dirs`` holds one search folder per chain (AlphaFold's layout names them after the
    chain ids: ``msas/A``, ``msas/B``, ...); only the first chain of each distinct sequence
    is read, so copies may repeat it or give None. ``templates=None`` uses no templates.
    """
    assembly = Assembly.from_sequences(sequences, descriptions)
    entity_features, searches = read_entity_features(assembly, msa_dirs, templates,
                                                     max_uniprot_hits)
    features = complex_features(assembly_chain_features(assembly, entity_features))
    logger.info("complex of %d chains (%d entities), %d residues: %d MSA rows",
                len(assembly), assembly.num_entities, assembly.num_res,
                int(features["num_alignments"]))
    return MultimerFeatures(features, assembly, searches)
