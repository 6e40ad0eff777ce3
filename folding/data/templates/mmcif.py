"""Template structures read from PDB mmCIF files.

A template hit names a PDB entry and chain (``1abc_A``); its 3D coordinates come from the
entry's mmCIF file in a local ``pdb_mmcif/mmcif_files`` folder. This module turns one
mmCIF file into a frozen :class:`MmcifEntry`: the entry's release date, method and
resolution, and for every protein chain its SEQRES sequence and the atom37 coordinates
of the residues the first model holds (supplement 1.2.3, template features).

AlphaFold's reading rules, kept here because the features depend on them:

* Chains are protein chains when any residue of their entity is a peptide-like chemical
  component (``_chem_comp.type`` contains "peptide"); DNA/RNA chains are left out. They
  are keyed by their author chain id (``auth_asym_id``), in the order of their entities.
* The SEQRES sequence comes from ``_entity_poly_seq`` (every row, so microheterogeneity
  adds letters as it does in AlphaFold); modified residues are read as their parent
  residue (MSE as M, SEP as S: Biopython's extended three-to-one table, which is what
  DeepMind's AlphaFold used through Biopython 1.79), anything else as X. (The PyPI
  reference running on Biopython >= 1.80 reads every non-standard residue as X; see
  ``tests/data/test_mmcif.py``.)
* Coordinates are those of the first model only; alternative locations resolve as
  Biopython resolves them (the highest occupancy); selenium of MSE goes into the SD slot;
  arginine NH1/NH2 are swapped when NH1 is the one nearer CD (a naming error in some
  entries).
* The release date is the earliest ``_pdbx_audit_revision_history.revision_date``.

Parsing uses gemmi for the tables (fast) and Biopython's ``StructureBuilder`` for the atom
coordinates, fed as Biopython's ``MMCIFParser`` feeds it, so that alternative locations
and point mutations resolve exactly as in AlphaFold, which builds its structures with
Biopython. A file that cannot be read raises
:class:`MmcifError` with the reason; a chain whose atoms cannot be placed keeps its
sequence and carries the reason in :attr:`ProteinChain.atom_error`.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from folding.common.atoms import ATOM37_INDEX, NUM_ATOM37

_PEPTIDE = "peptide"
_UNSET = (".", "?")


class MmcifError(Exception):
    """An mmCIF file that yields no usable entry (unreadable, no protein chain, ...)."""


@dataclass(frozen=True, eq=False)
class ProteinChain:
    """One protein chain of an entry.

    Attributes:
        author_id: the author chain id (``auth_asym_id``), as template hits name chains.
        sequence: the SEQRES sequence in one-letter codes (modified residues as their
            parent, unknown as X).
        observed: bool ``[num_res]``, True where the first model has the residue.
        atom_positions: float32 ``[num_res, 37, 3]`` atom37 coordinates in Angstrom
            (zeros where absent), or None when ``atom_error`` is set.
        atom_mask: float32 ``[num_res, 37]``, 1 where an atom is present, or None.
        atom_error: why the coordinates could not be read, or None.
    """

    author_id: str
    sequence: str
    observed: np.ndarray
    atom_positions: np.ndarray | None
    atom_mask: np.ndarray | None
    atom_error: str | None = None

    @property
    def num_res(self) -> int:
        return len(self.sequence)


@dataclass(frozen=True, eq=False)
class MmcifEntry:
    """A parsed PDB entry: header facts and its protein chains (author id -> chain)."""

    entry_id: str
    release_date: datetime.date | None
    structure_method: str
    resolution: float
    chains: Mapping[str, ProteinChain]

    @property
    def chain_sequences(self) -> dict[str, str]:
        """Author chain id -> SEQRES sequence, in entry order."""
        return {chain_id: chain.sequence for chain_id, chain in self.chains.items()}


def read_mmcif(path: str | os.PathLike[str], entry_id: str | None = None) -> MmcifEntry:
    """Parse the mmCIF file at ``path``; ``entry_id`` defaults to the file's stem, lower case."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise MmcifError(f"cannot read {path}: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise MmcifError(f"{path} is not a text mmCIF file ({error.reason})") from error
    return parse_mmcif(text, entry_id or path.stem.lower())


def read_release_date(path: str | os.PathLike[str]) -> datetime.date | None:
    """The release date of the entry in ``path``, read without building its structure.

    Cheap (tables only): lets a date cutoff drop entries before they are parsed. Raises
    :class:`MmcifError` when the file cannot be read.
    """
    from gemmi import cif

    try:
        return _release_date(_Tables(cif.read(str(path))[0]))
    except (OSError, RuntimeError, ValueError, IndexError) as error:
        raise MmcifError(f"{path}: not a readable mmCIF file ({error})") from error


def parse_mmcif(text: str, entry_id: str) -> MmcifEntry:
    """Parse mmCIF ``text`` into an :class:`MmcifEntry`; raises :class:`MmcifError`."""
    from gemmi import cif

    try:
        block = cif.read_string(text)[0]
        tables = _Tables(block)
        first_model = _first_model(block, entry_id)
    except Exception as error:  # Biopython raises many kinds on malformed files
        raise MmcifError(f"{entry_id}: not a readable mmCIF file ({error})") from error
    if first_model is None:
        raise MmcifError(f"{entry_id}: the mmCIF file has no atoms")
    try:
        protein_chains = _protein_chains(tables)
        if not protein_chains:
            raise MmcifError(f"{entry_id}: no protein chains in this entry")
        chains = _build_chains(tables, protein_chains, first_model)
    except MmcifError:
        raise
    except (KeyError, ValueError, IndexError) as error:
        raise MmcifError(f"{entry_id}: inconsistent mmCIF tables ({error!r})") from error
    return MmcifEntry(
        entry_id=entry_id,
        release_date=_release_date(tables),
        structure_method=",".join(m.lower() for m in tables.get("_exptl.method", [])),
        resolution=_resolution(tables),
        chains=MappingProxyType(chains),
    )


#: The ``_atom_site`` items Biopython's MMCIFParser builds a structure from.
_ATOM_ITEMS = ("id", "label_atom_id", "label_comp_id", "type_symbol", "auth_asym_id",
               "Cartn_x", "Cartn_y", "Cartn_z", "label_alt_id", "pdbx_PDB_ins_code",
               "B_iso_or_equiv", "occupancy", "group_PDB", "pdbx_PDB_model_num",
               "auth_seq_id")


def _first_model(block: object, entry_id: str) -> object | None:
    """The first model of the entry as a Biopython ``Model``, or None without atoms.

    Built with Biopython's ``StructureBuilder``, called row by row exactly as its
    ``MMCIFParser`` calls it (author chain and residue numbers, ``.``/``?`` as blank
    alternative location and insertion code, ``H``/``W`` hetero flags, permissive about
    malformed atoms), so alternative locations and point mutations resolve as they do in
    AlphaFold; only the leading run of rows with the first model number (Biopython's
    first model) is read, from gemmi's tables instead of Biopython's slower tokeniser.
    """
    import warnings

    from Bio.PDB.PDBExceptions import PDBConstructionException, PDBConstructionWarning
    from Bio.PDB.StructureBuilder import StructureBuilder
    from gemmi import cif

    items = ["?" + name if name == "type_symbol" else name for name in _ATOM_ITEMS]
    table = block.find("_atom_site.", items)  # type: ignore[attr-defined]
    if not len(table):
        return None
    column = {name: i for i, name in enumerate(_ATOM_ITEMS)}
    builder = StructureBuilder()
    builder.init_structure(entry_id)
    builder.init_seg(" ")
    model_num = table[0][column["pdbx_PDB_model_num"]]
    builder.init_model(0, int(model_num))
    chain = residue = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PDBConstructionWarning)
        for index in range(len(table)):
            row = table[index]
            if row[column["pdbx_PDB_model_num"]] != model_num:
                break
            number = row[column["auth_seq_id"]]
            if number == ".":
                continue
            name = cif.as_string(row[column["label_atom_id"]])
            residue_name = cif.as_string(row[column["label_comp_id"]])
            chain_id = cif.as_string(row[column["auth_asym_id"]])
            altloc = row[column["label_alt_id"]]
            altloc = " " if altloc in _UNSET else cif.as_string(altloc)
            icode = row[column["pdbx_PDB_ins_code"]]
            icode = " " if icode in _UNSET else cif.as_string(icode)
            if row[column["group_PDB"]] == "HETATM":
                hetero = "W" if residue_name in ("HOH", "WAT") else "H"
            else:
                hetero = " "
            if chain_id != chain:
                chain, residue = chain_id, None
                builder.init_chain(chain_id)
            if residue != (hetero, number, icode, residue_name):
                residue = (hetero, number, icode, residue_name)
                builder.init_residue(residue_name, hetero, int(number), icode)
            serial = row[column["id"]]
            coord = np.array([float(row[column[axis]]) for axis in
                              ("Cartn_x", "Cartn_y", "Cartn_z")], "f")
            try:
                builder.init_atom(
                    name, coord, float(row[column["B_iso_or_equiv"]]),
                    float(row[column["occupancy"]]), altloc, name,
                    serial_number=int(serial) if serial.isdigit() else serial,
                    element=cif.as_string(row[column["type_symbol"]]).upper()
                    if row.has(column["type_symbol"]) else None,
                )
            except PDBConstructionException:
                continue  # Biopython's permissive mode: the atom is left out
    return next(iter(builder.get_structure().get_models()), None)


class _Tables:
    """Read access to one data block's items: ``tables.get(tag)`` is the column as strings.

    Values are unquoted; the mmCIF null markers ``?`` and ``.`` are kept as written (as
    Biopython's ``MMCIF2Dict`` keeps them), so that "unset" stays distinguishable.
    """

    def __init__(self, block: object) -> None:
        self._block = block

    def get(self, tag: str, default: list[str] | None = None) -> list[str] | None:
        from gemmi import cif

        column = self._block.find_values(tag)  # type: ignore[attr-defined]
        if not column:
            return default
        return [value if value in _UNSET else cif.as_string(value) for value in column]

    def __contains__(self, tag: str) -> bool:
        return bool(self._block.find_values(tag))  # type: ignore[attr-defined]

    def __getitem__(self, tag: str) -> list[str]:
        column = self.get(tag)
        if column is None:
            raise KeyError(tag)
        return column


def _release_date(tables: _Tables) -> datetime.date | None:
    dates = tables.get("_pdbx_audit_revision_history.revision_date")
    if not dates:
        return None
    try:
        return datetime.date.fromisoformat(min(dates))
    except ValueError:
        return None


def _resolution(tables: _Tables) -> float:
    # AlphaFold reads these in this order and the last readable one wins.
    resolution = 0.0
    for key in ("_refine.ls_d_res_high", "_em_3d_reconstruction.resolution",
                "_reflns.d_resolution_high"):
        if key in tables:
            with contextlib.suppress(ValueError):
                resolution = float(tables[key][0])
    return resolution


def _rows(tables: _Tables, *keys: str) -> list[tuple[str, ...]]:
    columns = [tables.get(key, []) for key in keys]
    if len({len(column) for column in columns}) > 1:
        raise MmcifError(f"loop columns {', '.join(keys)} have different lengths")
    return list(zip(*columns, strict=True))


@dataclass(frozen=True)
class _PolymerChain:
    """A protein chain's entity residues and the number of its first ``_entity_poly_seq`` row."""

    residues: tuple[str, ...]
    first_num: int


def _protein_chains(tables: _Tables) -> dict[str, _PolymerChain]:
    """Label chain id -> its entity's residues, for chains of peptide-like entities."""
    entity_residues: dict[str, list[str]] = defaultdict(list)
    entity_nums: dict[str, list[int]] = defaultdict(list)
    for entity_id, num, residue in _rows(
        tables, "_entity_poly_seq.entity_id", "_entity_poly_seq.num", "_entity_poly_seq.mon_id"
    ):
        entity_residues[entity_id].append(residue)
        entity_nums[entity_id].append(int(num))
    component_types = dict(_rows(tables, "_chem_comp.id", "_chem_comp.type"))
    entity_chains: dict[str, list[str]] = defaultdict(list)
    for chain_id, entity_id in _rows(tables, "_struct_asym.id", "_struct_asym.entity_id"):
        entity_chains[entity_id].append(chain_id)
    chains: dict[str, _PolymerChain] = {}
    for entity_id, residues in entity_residues.items():
        if any(_PEPTIDE in component_types[name].lower() for name in residues):
            polymer = _PolymerChain(tuple(residues), min(entity_nums[entity_id]))
            for chain_id in entity_chains[entity_id]:
                chains[chain_id] = polymer
    return chains


@dataclass(frozen=True)
class _Site:
    """Where a SEQRES position sits in the Biopython model: (hetero flag, number, icode)."""

    hetflag: str
    number: int
    insertion_code: str


def _build_chains(
    tables: _Tables, protein_chains: Mapping[str, _PolymerChain], model: object
) -> dict[str, ProteinChain]:
    label_to_author: dict[str, str] = {}
    sites: dict[str, dict[int, _Site]] = defaultdict(dict)
    for residue, author_chain, label_chain, author_num, label_num, icode, group, model_num in _rows(
        tables, "_atom_site.label_comp_id", "_atom_site.auth_asym_id", "_atom_site.label_asym_id",
        "_atom_site.auth_seq_id", "_atom_site.label_seq_id", "_atom_site.pdbx_PDB_ins_code",
        "_atom_site.group_PDB", "_atom_site.pdbx_PDB_model_num",
    ):
        if model_num != "1":
            continue
        label_to_author[label_chain] = author_chain
        if label_chain not in protein_chains:
            continue
        if group == "HETATM":
            hetflag = "W" if residue in ("HOH", "WAT") else f"H_{residue}"
        else:
            hetflag = " "
        site = _Site(hetflag, int(author_num), " " if icode in _UNSET else icode)
        sites[author_chain][int(label_num) - protein_chains[label_chain].first_num] = site

    sequences: dict[str, str] = {}
    for label_chain, polymer in protein_chains.items():
        if label_chain not in label_to_author:
            raise MmcifError(f"protein chain {label_chain} has no atoms in the first model")
        sequences[label_to_author[label_chain]] = "".join(_one_letter(r) for r in polymer.residues)

    model_chains = {chain.id: chain for chain in model.get_chains()}  # type: ignore[attr-defined]
    chains: dict[str, ProteinChain] = {}
    for author_chain, sequence in sequences.items():
        chain_sites = [sites[author_chain].get(i) for i in range(len(sequence))]
        observed = np.array([site is not None for site in chain_sites], dtype=bool)
        try:
            positions, mask = _atom37(model_chains.get(author_chain), author_chain, chain_sites)
            error = None
        except _AtomDataError as problem:
            positions, mask, error = None, None, str(problem)
        chains[author_chain] = ProteinChain(
            author_chain, sequence, observed, positions, mask, error
        )
    return chains


def _one_letter(residue_name: str) -> str:
    from Bio.Data.PDBData import protein_letters_3to1_extended

    code = protein_letters_3to1_extended.get(residue_name, "X")
    return code if len(code) == 1 else "X"


class _AtomDataError(Exception):
    pass


_SD, _CD, _NH1, _NH2 = (ATOM37_INDEX[name] for name in ("SD", "CD", "NH1", "NH2"))


def _atom37(
    chain: object, author_chain: str, sites: Sequence[_Site | None]
) -> tuple[np.ndarray, np.ndarray]:
    """Atom37 positions and mask of a chain's SEQRES positions from the Biopython model."""
    if chain is None:
        raise _AtomDataError(f"chain {author_chain} is not in the first model")
    positions = np.zeros((len(sites), NUM_ATOM37, 3), dtype=np.float32)
    mask = np.zeros((len(sites), NUM_ATOM37), dtype=np.float32)
    for index, site in enumerate(sites):
        if site is None:
            continue
        try:
            residue = chain[(site.hetflag, site.number, site.insertion_code)]  # type: ignore[index]
        except KeyError as error:
            raise _AtomDataError(
                f"residue {site.number}{site.insertion_code.strip()} of chain {author_chain} "
                "is not in the structure"
            ) from error
        name = residue.get_resname()
        pos, present = positions[index], mask[index]
        for atom in residue.get_atoms():
            slot = ATOM37_INDEX.get(atom.get_name())
            if slot is None and atom.get_name().upper() == "SE" and name == "MSE":
                slot = _SD
            if slot is not None:
                pos[slot] = atom.get_coord()
                present[slot] = 1.0
        if (name == "ARG" and present[_CD] and present[_NH1] and present[_NH2]
                and np.linalg.norm(pos[_NH1] - pos[_CD]) > np.linalg.norm(pos[_NH2] - pos[_CD])):
            pos[[_NH1, _NH2]] = pos[[_NH2, _NH1]]
    return positions, mask
