"""Raw input features: the query, its MSAs and its templates as AlphaFold's raw feature dict.

This is the end of AlphaFold's data pipeline (supplement 1.2, Table 1): what its
``DataPipeline.process`` returns and pickles as ``features.pkl``, and what the model's
feature processing starts from. Keys, dtypes and shapes (L residues, N MSA rows,
T templates):

=============================  ===================  ===========================================
key                            dtype, shape         content
=============================  ===================  ===========================================
``aatype``                     int32 [L, 21]        one-hot residue type, AlphaFold's order, X=20
``between_segment_residues``   int32 [L]            zeros
``domain_name``                bytes [1]            the FASTA description
``residue_index``              int32 [L]            0 .. L-1
``seq_length``                 int32 [L]            L, repeated
``sequence``                   bytes [1]            the query sequence
``deletion_matrix_int``        int32 [N, L]         residues deleted before each column
``msa``                        int32 [N, L]         HH-suite residue ids (A=0, C=1, ..., -=21)
``num_alignments``             int32 [L]            N, repeated
``msa_species_identifiers``    bytes [N]            UniProt species mnemonic or ``b""``
``template_*``                 see                  :mod:`folding.data.templates.featurise`
=============================  ===================  ===========================================

The MSA is the UniRef90, BFD (or small BFD) and MGnify alignments in that order, merged
and deduplicated: a row identical (as aligned to the query, insertions aside) to an
earlier row of any of them is dropped, the query stays first. This is DeepMind's
AlphaFold; the PyPI reference fork has the deduplication commented out
(``tests/data/test_features_parity.py`` restores it on the reference's output).

**ColabFold's MSAs.** A folder holding none of AlphaFold's MSA files but ColabFold's
(``uniref.a3m`` and, when the environmental search ran, ``bfd.mgnify30.metaeuk30.smag30.a3m``,
from ``folding search --tool mmseqs2|server``, ``colabfold_search`` or a ColabFold MSA
server) is read as ColabFold reads it (``colabfold.batch``: ``run_mmseqs2`` joins the two
A3Ms, ``build_monomer_feature`` parses the result with ``parse_a3m`` and calls
``make_msa_features``): every row of ``uniref.a3m``, then every row of the environmental
A3M (whose own first record, the query again, becomes a row), no row limit, deletions
from the lower-case insertions. We then deduplicate as AlphaFold's ``make_msa_features``
does, so the environmental A3M's query copy and any sequence both searches found appear
once; ColabFold runs on the PyPI fork without that deduplication, so its model sees those
rows twice: :func:`raw_features` with ``deduplicate=False`` (``folding features
--keep-duplicate-rows``) gives ColabFold's MSA exactly, row for row
(``tests/data/test_features_colabfold.py`` checks both against the fork's functions).
Species identifiers stay empty for ColabFold's rows (``UniRef100_...`` and
metagenomic names carry no UniProt mnemonic), as in ColabFold.

On disk (``folding features --output RAW.npz``) the string features are stored as
fixed-width bytes, so the file loads without pickle; :func:`load_raw_npz` turns them back
into AlphaFold's object arrays.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from folding.atomic import save_npz
from folding.common.alphabet import HHBLITS_AA_TO_ID, sequence_to_onehot
from folding.data.parsers.msa import Msa, species_identifier
from folding.data.parsers.read import read_msa
from folding.errors import InputError

logger = logging.getLogger(__name__)

FeatureDict = dict[str, np.ndarray]

#: Precomputed MSA files AlphaFold reads, in the order their rows are merged, with the
#: number of rows it reads (None: all). Alternatives for one slot are tried in order:
#: AlphaFold 2.3 names first, then 2.0-2.2 names, then the reduced_dbs file.
MSA_FILES: tuple[tuple[tuple[str, ...], int | None], ...] = (
    (("uniref90_hits.sto",), 10_000),
    (("bfd_uniref_hits.a3m", "bfd_uniclust_hits.a3m", "small_bfd_hits.sto"), None),
    (("mgnify_hits.sto",), 501),
)
#: ColabFold's MSA files (MMseqs2 search or MSA server), in the order it joins them; read
#: whole, when a folder holds none of :data:`MSA_FILES`.
COLABFOLD_MSA_FILES: tuple[str, ...] = ("uniref.a3m", "bfd.mgnify30.metaeuk30.smag30.a3m")
#: Template hit files, in the order they are looked for: hhsearch output (AlphaFold 2.3's
#: monomer name, then 2.0-2.2's), then hmmsearch output (AlphaFold 2.3's multimer search),
#: then ColabFold's MMseqs2 hits (searched again with hhsearch, as ColabFold does).
TEMPLATE_HIT_FILES: tuple[str, ...] = ("pdb_hits.hhr", "pdb70_hits.hhr", "pdb_hits.sto",
                                       "pdb70.m8")
#: Where an MSA folder is read from: AlphaFold's files, ColabFold's, or whichever it holds
#: (AlphaFold's first).
MSA_LAYOUTS = ("auto", "alphafold", "colabfold")
#: Features that hold strings (object arrays of bytes in AlphaFold's dict).
STRING_FEATURES = frozenset({
    "domain_name", "sequence", "msa_species_identifiers", "template_domain_names",
    "template_sequence",
})

_HHBLITS_LOOKUP = np.full(256, -1, dtype=np.int32)
for _letter, _index in HHBLITS_AA_TO_ID.items():
    _HHBLITS_LOOKUP[ord(_letter)] = _index


def _bytes_array(texts: Sequence[str]) -> np.ndarray:
    out = np.empty(len(texts), dtype=object)
    out[:] = [text.encode() for text in texts]
    return out


def sequence_features(sequence: str, description: str) -> FeatureDict:
    """The query's features: one-hot residue types, indices, length, name and sequence."""
    num_res = len(sequence)
    return {
        "aatype": sequence_to_onehot(sequence).astype(np.int32),
        "between_segment_residues": np.zeros(num_res, dtype=np.int32),
        "domain_name": _bytes_array([description]),
        "residue_index": np.arange(num_res, dtype=np.int32),
        "seq_length": np.full(num_res, num_res, dtype=np.int32),
        "sequence": _bytes_array([sequence]),
    }


def msa_features(msas: Sequence[Msa], deduplicate: bool = True) -> FeatureDict:
    """Merged MSA features of ``msas`` (the first one's first row is the query).

    With ``deduplicate`` (AlphaFold's behaviour), a row whose aligned sequence has been
    seen before, in this or an earlier MSA, is dropped with its deletions and species.
    """
    if not msas or not len(msas[0]):
        raise ValueError("msa_features needs at least one MSA with at least the query")
    num_res = msas[0].num_res
    seen: set[str] = set()
    rows: list[str] = []
    deletions: list[np.ndarray] = []
    species: list[str] = []
    for msa in msas:
        if msa.num_res != num_res:
            raise ValueError(f"MSAs of different widths: {msa.num_res} and {num_res}")
        keep = []
        for index, row in enumerate(msa.sequences):
            if deduplicate:
                if row in seen:
                    continue
                seen.add(row)
            keep.append(index)
            rows.append(row)
            species.append(species_identifier(msa.descriptions[index]))
        deletions.append(msa.deletion_matrix[keep])
    encoded = np.frombuffer("".join(rows).encode("ascii"), dtype=np.uint8)
    ids = _HHBLITS_LOOKUP[encoded].reshape(len(rows), num_res)
    if (ids < 0).any():
        bad = chr(int(encoded[np.flatnonzero(ids.reshape(-1) < 0)[0]]))
        raise InputError(f"MSA row holds the character {bad!r}, which is not a residue or '-'; "
                         "regenerate the alignment")
    return {
        "deletion_matrix_int": np.concatenate(deletions).astype(np.int32),
        "msa": ids.astype(np.int32),
        "num_alignments": np.full(num_res, len(rows), dtype=np.int32),
        "msa_species_identifiers": _bytes_array(species),
    }


@dataclass(frozen=True)
class MsaFile:
    """A precomputed MSA file and how many of its rows are read (None: all)."""

    path: Path
    max_rows: int | None


def find_msa_files(msa_dir: str | os.PathLike[str], layout: str = "auto") -> list[MsaFile]:
    """The precomputed MSA files of ``msa_dir``, in merge order.

    ``layout``: ``alphafold`` reads AlphaFold's files (:data:`MSA_FILES`), ``colabfold``
    ColabFold's (:data:`COLABFOLD_MSA_FILES`), ``auto`` AlphaFold's when the folder holds
    any of them, else ColabFold's.
    """
    folder = Path(msa_dir)
    if not folder.is_dir():
        raise InputError(f"MSA folder {folder} not found; run the MSA search first")
    if layout not in MSA_LAYOUTS:
        raise InputError(f"unknown MSA layout {layout!r}; choose one of {', '.join(MSA_LAYOUTS)}")
    alphafold_names = [name for names, _ in MSA_FILES for name in names]
    if layout == "colabfold" or (
        layout == "auto" and not any((folder / name).is_file() for name in alphafold_names)
        and (folder / COLABFOLD_MSA_FILES[0]).is_file()
    ):
        return find_colabfold_msa_files(folder)
    found = []
    for names, max_rows in MSA_FILES:
        for name in names:
            if (folder / name).is_file():
                found.append(MsaFile(folder / name, max_rows))
                break
        else:
            logger.warning("%s: no %s; that MSA is left out", folder, " or ".join(names))
    if not found:
        expected = ", ".join(name for names, _ in MSA_FILES for name in names)
        raise InputError(f"MSA folder {folder} holds none of {expected}; run the MSA search first")
    return found


def find_colabfold_msa_files(msa_dir: str | os.PathLike[str]) -> list[MsaFile]:
    """ColabFold's A3Ms in ``msa_dir``: ``uniref.a3m`` (required), then the environmental
    A3M when present; every row is read."""
    folder = Path(msa_dir)
    first, env = (folder / name for name in COLABFOLD_MSA_FILES)
    if not first.is_file():
        raise InputError(f"MSA folder {folder} holds no {first.name} (ColabFold's UniRef MSA); "
                         "run the MSA search first (msa_mode mmseqs2 or server)")
    found = [MsaFile(first, None)]
    if env.is_file():
        found.append(MsaFile(env, None))
    else:
        logger.info("%s: no %s; the UniRef MSA alone is used", folder, env.name)
    return found


def find_template_hits(msa_dir: str | os.PathLike[str]) -> Path | None:
    """The template hit file of ``msa_dir`` (see :data:`TEMPLATE_HIT_FILES`), or None."""
    for name in TEMPLATE_HIT_FILES:
        path = Path(msa_dir) / name
        if path.is_file():
            return path
    return None


def read_msas(files: Sequence[MsaFile], sequence: str) -> list[Msa]:
    """Parse ``files``; each one's first row must be ``sequence`` (the same target)."""
    msas = []
    for file in files:
        msa = read_msa(file.path, file.max_rows)
        if msa.query != sequence:
            raise InputError(
                f"{file.path}: its first row is not the query sequence of the FASTA file; "
                "the alignment belongs to another target, delete it and search again"
            )
        logger.info("%s: %d rows", file.path, len(msa))
        msas.append(msa)
    return msas


def raw_features(
    sequence: str, description: str, msas: Sequence[Msa], templates: Mapping[str, np.ndarray],
    deduplicate: bool = True,
) -> FeatureDict:
    """The whole raw feature dict: sequence, merged MSA and template features.

    ``deduplicate=False`` keeps repeated rows (ColabFold's MSA, see the module docstring).
    """
    msa = msa_features(msas, deduplicate=deduplicate)
    logger.info("MSA: %d rows %s of %d", msa["num_alignments"][0],
                "after deduplication" if deduplicate else "(duplicates kept)",
                sum(len(m) for m in msas))
    return {**sequence_features(sequence, description), **msa, **templates}


def save_raw_npz(path: str | os.PathLike[str], features: Mapping[str, np.ndarray]) -> None:
    """Write ``features`` to ``path`` atomically, string features as fixed-width bytes."""
    arrays = {}
    for key, value in features.items():
        value = np.asarray(value)
        if value.dtype == object:
            value = np.array([bytes(v) for v in value.reshape(-1)], dtype=np.bytes_).reshape(
                value.shape)
        arrays[key] = value
    save_npz(path, arrays, compress=True)


def load_raw_npz(path: str | os.PathLike[str]) -> FeatureDict:
    """Read a raw-feature ``.npz`` (no pickle); string features become object arrays."""
    with np.load(path, allow_pickle=False) as data:
        features = {key: data[key] for key in data.files}
    for key, value in features.items():
        if value.dtype.kind == "S":
            features[key] = value.astype(object)
    return features
