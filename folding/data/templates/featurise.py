"""Template features: template hits + mmCIF structures -> AlphaFold's raw template features.

Supplement 1.2.3 ("Template search") and the template part of Table 1. For each hit, best
first, the template's structure is read from the local ``pdb_mmcif`` folder and its atoms
are placed on the query residues the hit aligns them to. A hit is skipped, with the
reason logged and kept in :attr:`TemplateFeatures.skipped`, when:

* its PDB entry is obsolete without a replacement (``obsolete.dat``); an entry replaced
  by another is read under the new id;
* it aligns too little of the query (aligned columns <= 10 % of the query length) or its
  template stretch is shorter than 10 residues (DeepMind's prefilter; the PyPI reference
  fork dropped these two checks, see ``tests/data/test_features_parity.py``);
* its mmCIF file is missing, unreadable, has no release date or no usable chain;
* the entry was released after ``max_template_date``;
* the hit's sequence is not in the entry and a Kalign realignment to the chain's SEQRES
  is less than 90 % identical; the chain has no atoms where the hit aligns (fewer than
  5 atoms), or two consecutive observed residues have CA atoms more than 150 A apart.

At most ``max_hits`` (20, AlphaFold's ``MAX_TEMPLATE_HITS``) templates are featurised;
the model later uses the first 4 (``max_templates`` in the model's data config). hhsearch
hits are taken in decreasing ``Sum_probs``; hmmsearch hits, which have none, in
hmmsearch's order, and a template whose aligned sequence equals an earlier one's is
dropped (AlphaFold's ``HmmsearchHitFeaturizer``).
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from folding.common.alphabet import HHBLITS_AA_TO_ID
from folding.common.atoms import ATOM37_INDEX, NUM_ATOM37
from folding.data.templates.database import TemplateDatabase
from folding.data.templates.hits import TemplateHit, query_to_hit_mapping
from folding.data.templates.mmcif import (
    MmcifEntry,
    MmcifError,
    ProteinChain,
    read_mmcif,
    read_release_date,
)
from folding.data.tools.kalign import Kalign
from folding.errors import ToolError

logger = logging.getLogger(__name__)

#: Templates featurised per query (AlphaFold's MAX_TEMPLATE_HITS).
MAX_TEMPLATE_HITS = 20
#: Templates the model uses (the model config's ``max_templates``).
MAX_TEMPLATES = 4
#: Gap between consecutive CA atoms beyond which a chain is refused (Angstrom).
MAX_CA_CA_DISTANCE = 150.0
#: Prefilter: a hit must align more than this fraction of the query...
MIN_ALIGN_RATIO = 0.1
#: ...and its template stretch must have at least this many residues.
MIN_TEMPLATE_LENGTH = 10
#: A realigned hit must be this identical to the mmCIF chain (over the shorter one).
MIN_REALIGN_IDENTITY = 0.9
#: Template aatype one-hot depth: HH-suite's 20 residues, X and the gap.
NUM_TEMPLATE_AATYPES = 22

SearchTool = Literal["hhsearch", "hmmsearch"]
_CA = ATOM37_INDEX["CA"]


@dataclass(frozen=True)
class SkippedHit:
    """A hit that gave no template, and why (``kind``: prefilter, warning or error)."""

    name: str
    reason: str
    kind: Literal["prefilter", "warning", "error"]


@dataclass(frozen=True, eq=False)
class TemplateFeatures:
    """Features of the templates found, stacked over templates (T), query length L.

    Attributes:
        aatype: float32 ``[T, L, 22]``, one-hot of the template residue on each query
            residue in HH-suite's order (``-`` where the template has none).
        all_atom_positions: float32 ``[T, L, 37, 3]`` atom37 coordinates.
        all_atom_masks: float32 ``[T, L, 37]``.
        domain_names: ``<pdb id>_<chain>`` per template.
        sequences: per template, the template residue on each query residue (``-``).
        sum_probs: float32 ``[T]``, hhsearch's Sum_probs (0 for hmmsearch hits).
        skipped: the hits that gave no template, in the order they were tried.
        search: the search the hits came from (decides the empty-result layout).
    """

    aatype: np.ndarray
    all_atom_positions: np.ndarray
    all_atom_masks: np.ndarray
    domain_names: tuple[str, ...]
    sequences: tuple[str, ...]
    sum_probs: np.ndarray
    skipped: tuple[SkippedHit, ...] = ()
    search: SearchTool = "hhsearch"

    def __len__(self) -> int:
        return len(self.domain_names)

    def raw_features(self) -> dict[str, np.ndarray]:
        """AlphaFold's raw template features (``template_*``), with its dtypes and shapes.

        With no template, hhsearch results are empty 1-D arrays and hmmsearch results one
        all-zero template named ``""``, as AlphaFold's two featurisers return them.
        """
        if len(self):
            return {
                "template_aatype": self.aatype.astype(np.float32),
                "template_all_atom_masks": self.all_atom_masks.astype(np.float32),
                "template_all_atom_positions": self.all_atom_positions.astype(np.float32),
                "template_domain_names": _bytes_array(self.domain_names),
                "template_sequence": _bytes_array(self.sequences),
                "template_sum_probs": self.sum_probs.astype(np.float32)[:, None],
            }
        if self.search == "hhsearch":
            return {
                "template_aatype": np.array([], np.float32),
                "template_all_atom_masks": np.array([], np.float32),
                "template_all_atom_positions": np.array([], np.float32),
                "template_domain_names": np.array([], dtype=object),
                "template_sequence": np.array([], dtype=object),
                "template_sum_probs": np.array([], np.float32),
            }
        length = self.aatype.shape[1]
        return {
            "template_aatype": np.zeros((1, length, NUM_TEMPLATE_AATYPES), np.float32),
            "template_all_atom_masks": np.zeros((1, length, NUM_ATOM37), np.float32),
            "template_all_atom_positions": np.zeros((1, length, NUM_ATOM37, 3), np.float32),
            "template_domain_names": _bytes_array([""]),
            "template_sequence": _bytes_array([""]),
            "template_sum_probs": np.zeros((1,), np.float32),
        }


def _bytes_array(texts: Sequence[str]) -> np.ndarray:
    out = np.empty(len(texts), dtype=object)
    out[:] = [text.encode() for text in texts]
    return out


class _SkipError(Exception):
    def __init__(self, reason: str, kind: Literal["prefilter", "warning", "error"]) -> None:
        super().__init__(reason)
        self.reason, self.kind = reason, kind


#: What reading an entry gave: the entry, why it is unusable, or why it is not wanted.
_Loaded = MmcifEntry | MmcifError | _SkipError


@dataclass(frozen=True)
class _Template:
    domain_name: str
    sequence: str
    positions: np.ndarray
    masks: np.ndarray
    sum_probs: float


class TemplateFeaturiser:
    """Turns template hits into :class:`TemplateFeatures` (AlphaFold's TemplateHitFeaturizer).

    ``search`` is the tool the hits came from: it sets the hit order, the deduplication
    and the empty-result layout (see the module docstring).
    """

    def __init__(
        self,
        database: TemplateDatabase,
        max_template_date: datetime.date,
        kalign: Kalign,
        search: SearchTool = "hhsearch",
        max_hits: int = MAX_TEMPLATE_HITS,
    ) -> None:
        if search not in ("hhsearch", "hmmsearch"):
            raise ValueError(f"unknown template search {search!r}")
        self.database = database
        self.max_template_date = max_template_date
        self.kalign = kalign
        self.search = search
        self.max_hits = max_hits

    def featurise(self, query_sequence: str, hits: Sequence[TemplateHit]) -> TemplateFeatures:
        """The templates of ``hits`` for ``query_sequence`` (upper-case one-letter codes)."""
        if hits and hits[0].sum_probs is not None:
            hits = sorted(hits, key=lambda hit: hit.sum_probs or 0.0, reverse=True)
        entries: dict[str, _Loaded] = {}
        templates: list[_Template] = []
        seen: set[str] = set()
        skipped: list[SkippedHit] = []
        for hit in hits:
            if len(templates) >= self.max_hits:
                break
            try:
                template = self._template(query_sequence, hit, entries)
            except _SkipError as skip:
                logger.info("template %s skipped (%s): %s", hit.name.split()[0], skip.kind,
                            skip.reason)
                skipped.append(SkippedHit(hit.name, skip.reason, skip.kind))
                continue
            if self.search == "hmmsearch":
                if template.sequence in seen:
                    continue
                seen.add(template.sequence)
            templates.append(template)
        logger.info("%d templates from %d hits (%d skipped)", len(templates), len(hits),
                    len(skipped))
        return self._stack(query_sequence, templates, skipped)

    def _stack(
        self, query: str, templates: list[_Template], skipped: list[SkippedHit]
    ) -> TemplateFeatures:
        length = len(query)
        aatype = np.zeros((len(templates), length, NUM_TEMPLATE_AATYPES), np.float32)
        for t, template in enumerate(templates):
            ids = [HHBLITS_AA_TO_ID[residue] for residue in template.sequence]
            aatype[t, np.arange(length), ids] = 1.0
        return TemplateFeatures(
            aatype=aatype,
            all_atom_positions=np.stack([t.positions for t in templates]) if templates
            else np.zeros((0, length, NUM_ATOM37, 3), np.float32),
            all_atom_masks=np.stack([t.masks for t in templates]) if templates
            else np.zeros((0, length, NUM_ATOM37), np.float32),
            domain_names=tuple(t.domain_name for t in templates),
            sequences=tuple(t.sequence for t in templates),
            sum_probs=np.array([t.sum_probs for t in templates], np.float32),
            skipped=tuple(skipped),
            search=self.search,
        )

    # ------------------------------------------------------------------ one hit

    def _template(
        self, query: str, hit: TemplateHit, entries: dict[str, _Loaded]
    ) -> _Template:
        try:
            pdb_id, chain_id = hit.pdb_id_and_chain
        except ValueError as error:
            raise _SkipError(str(error), "error") from error
        if pdb_id in self.database.obsolete:
            replacement = self.database.obsolete[pdb_id]
            if replacement is None:
                raise _SkipError(f"entry {pdb_id} is obsolete", "warning")
            pdb_id = replacement
        self._prefilter(query, hit)

        mapping = query_to_hit_mapping(hit, query)
        hit_sequence = hit.hit_sequence.replace("-", "")
        entry = self._entry(pdb_id, entries)

        found = _find_in_entry(entry, chain_id, hit_sequence)
        if found is not None:
            chain, offset = found
            template_sequence = hit_sequence
        else:
            chain = entry.chains.get(chain_id)
            template_sequence, mapping = self._realign(entry, chain_id, hit_sequence, mapping)
            offset = 0
            if chain is None:
                raise _SkipError(f"realigned chain {chain_id} is not a protein chain of {pdb_id}",
                            "warning")
            logger.info("template %s_%s realigned to its mmCIF sequence", pdb_id, chain_id)

        positions, masks = _chain_atoms(chain, pdb_id)
        out_positions = np.zeros((len(query), NUM_ATOM37, 3), np.float32)
        out_masks = np.zeros((len(query), NUM_ATOM37), np.float32)
        residues = ["-"] * len(query)
        for q, t in mapping.items():
            # AlphaFold stores -1 for query residues the realignment left unaligned and
            # then indexes with it, which reads the chain's last residue; kept for parity.
            out_positions[q] = positions[t + offset]
            out_masks[q] = masks[t + offset]
            residues[q] = template_sequence[t]
        if out_masks.sum() < 5:
            raise _SkipError(f"{pdb_id}_{chain.author_id} has no atoms where the hit aligns",
                        "warning")
        return _Template(
            domain_name=f"{pdb_id.lower()}_{chain.author_id}",
            sequence="".join(residues),
            positions=out_positions,
            masks=out_masks,
            sum_probs=hit.sum_probs if hit.sum_probs is not None else 0.0,
        )

    @staticmethod
    def _prefilter(query: str, hit: TemplateHit) -> None:
        ratio = hit.aligned_cols / len(query)
        if ratio <= MIN_ALIGN_RATIO:
            raise _SkipError(f"aligns {ratio:.1%} of the query (needs > {MIN_ALIGN_RATIO:.0%})",
                        "prefilter")
        length = len(hit.hit_sequence.replace("-", ""))
        if length < MIN_TEMPLATE_LENGTH:
            raise _SkipError(f"template stretch of {length} residues (needs {MIN_TEMPLATE_LENGTH})",
                        "prefilter")

    def _entry(self, pdb_id: str, entries: dict[str, _Loaded]) -> MmcifEntry:
        """The parsed entry, or a skip: missing, unreadable, undated or too recent.

        The release date is read first from the tables alone, so that entries past the
        cutoff are never parsed whole.
        """
        if pdb_id not in entries:
            entries[pdb_id] = self._load(pdb_id)
        entry = entries[pdb_id]
        if isinstance(entry, _SkipError):
            raise _SkipError(entry.reason, entry.kind)
        if isinstance(entry, MmcifError):
            raise _SkipError(str(entry), "warning")
        return entry

    def _load(self, pdb_id: str) -> _Loaded:
        path = self.database.mmcif_dir / f"{pdb_id}.cif"
        if not path.is_file():
            return MmcifError(f"mmCIF file {path} not found")
        try:
            released = read_release_date(path)
            if released is None:
                return MmcifError(f"entry {pdb_id} has no release date")
            if released > self.max_template_date:
                return _SkipError(f"entry {pdb_id} released {released} after the maximum "
                                  f"template date {self.max_template_date}", "prefilter")
            return read_mmcif(path, pdb_id)
        except MmcifError as error:
            return error

    def _realign(
        self, entry: MmcifEntry, chain_id: str, old: str, mapping: Mapping[int, int]
    ) -> tuple[str, dict[int, int]]:
        """Align the hit's sequence to the mmCIF chain's; remap query -> template."""
        chain = entry.chains.get(chain_id)
        if chain is None and len(entry.chains) == 1:
            chain = next(iter(entry.chains.values()))
        if chain is None:
            raise _SkipError(f"chain {chain_id} is not a protein chain of {entry.entry_id}",
                             "error")
        new = chain.sequence
        try:
            old_aligned, new_aligned = self.kalign.align([old, new])
        except (ValueError, ToolError) as error:
            raise _SkipError(f"cannot realign to {entry.entry_id}_{chain_id}: {error}",
                        "error") from error
        old_to_new: dict[int, int] = {}
        old_index = new_index = -1
        same = 0
        for a, b in zip(old_aligned, new_aligned, strict=True):
            old_index += a != "-"
            new_index += b != "-"
            if a != "-" and b != "-":
                old_to_new[old_index] = new_index
                same += a == b
        identity = same / min(len(old), len(new))
        if identity < MIN_REALIGN_IDENTITY:
            raise _SkipError(f"hit sequence is {identity:.0%} identical to {entry.entry_id}_"
                        f"{chain_id} in the mmCIF file (needs {MIN_REALIGN_IDENTITY:.0%})",
                        "error")
        return new, {q: old_to_new.get(t, -1) for q, t in mapping.items()}


def _find_in_entry(
    entry: MmcifEntry, chain_id: str, sequence: str
) -> tuple[ProteinChain, int] | None:
    """The chain holding ``sequence`` and where it starts: the hit's chain first, then any
    chain, then any chain with X read as a wildcard on either side."""
    chain = entry.chains.get(chain_id)
    if chain is not None and chain.sequence and sequence in chain.sequence:
        return chain, chain.sequence.find(sequence)
    for chain in entry.chains.values():
        if chain.sequence and sequence in chain.sequence:
            return chain, chain.sequence.find(sequence)
    pattern = re.compile("".join("." if r == "X" else f"(?:{re.escape(r)}|X)" for r in sequence))
    for chain in entry.chains.values():
        match = pattern.search(chain.sequence)
        if match:
            return chain, match.start()
    return None


def _chain_atoms(chain: ProteinChain, pdb_id: str) -> tuple[np.ndarray, np.ndarray]:
    if chain.atom_positions is None or chain.atom_mask is None:
        raise _SkipError(f"no atom data for {pdb_id}_{chain.author_id}: {chain.atom_error}",
                         "warning")
    # Only residues next to each other in SEQRES, both with a CA atom, are compared.
    has_ca = chain.atom_mask[:, _CA] > 0
    ca = chain.atom_positions[:, _CA].astype(np.float64)
    gaps = np.linalg.norm(np.diff(ca, axis=0), axis=-1)
    if (gaps[has_ca[1:] & has_ca[:-1]] > MAX_CA_CA_DISTANCE).any():
        raise _SkipError(f"{pdb_id}_{chain.author_id} has consecutive CA atoms more than "
                    f"{MAX_CA_CA_DISTANCE:g} A apart", "warning")
    return chain.atom_positions, chain.atom_mask
