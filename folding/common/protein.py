"""The protein structure type shared by the model, relaxation and the output files.

A :class:`Protein` holds one model of a (possibly multi-chain) protein in AlphaFold's
atom37 layout (supplement section 1.2.1): every residue has 37 heavy-atom slots, a
mask saying which are present, and a per-atom B-factor. For predicted structures the
B-factor column carries the per-residue pLDDT (supplement section 1.9.6), broadcast
over the residue's atoms, as AlphaFold writes it.

Reading a structure file goes through gemmi (:func:`from_gemmi_structure`); the PDB and
mmCIF text formats live in :mod:`folding.common.pdb` and :mod:`folding.common.mmcif`.
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from folding.common.alphabet import (
    RESIDUE_NAMES_WITH_UNK,
    RESTYPES_WITH_X,
    THREE_TO_ONE,
    UNKNOWN_INDEX,
)
from folding.common.atoms import ATOM37_INDEX, NUM_ATOM37, STANDARD_ATOM37_MASK

if TYPE_CHECKING:
    import gemmi

#: Chain identifiers in the order they are given to chains 0, 1, 2, ... (the 62 the
#: PDB format can hold: A-Z, a-z, 0-9).
PDB_CHAIN_IDS: str = string.ascii_uppercase + string.ascii_lowercase + string.digits
PDB_MAX_CHAINS = len(PDB_CHAIN_IDS)  # 62

#: Residues read as a standard residue they modify (selenomethionine as methionine,
#: its selenium in the sulphur slot), as AlphaFold's template parser does.
MODIFIED_RESIDUES: dict[str, tuple[str, dict[str, str]]] = {
    "MSE": ("MET", {"SE": "SD"}),
}


def _frozen_array(value: Any, dtype: type, name: str, shape: tuple[int | None, ...]) -> np.ndarray:
    array = np.array(value, dtype=dtype, copy=True)
    if array.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape, strict=True)
    ):
        raise ValueError(f"Protein.{name} has shape {array.shape}, expected {shape}")
    array.setflags(write=False)
    return array


@dataclasses.dataclass(frozen=True)
class Protein:
    """One model of a protein in the atom37 layout (arrays are copied and read-only).

    Attributes:
        atom_positions: [L, 37, 3] float32 coordinates in Angstrom.
        atom_mask: [L, 37] float32, 1 where the atom is present.
        aatype: [L] int32 residue types in AlphaFold's order (20 = unknown).
        residue_index: [L] int32 residue numbers as written in files (author numbering;
            1-based for predictions).
        chain_index: [L] int32, 0-based chain of each residue.
        b_factors: [L, 37] float32 B-factors; the per-residue pLDDT for predictions.
        chain_ids: the identifier of each chain index (``chain_ids[chain_index[i]]``);
            empty means A, B, C, ... in chain-index order.
        remarks: free-text remarks carried to the output files, e.g.
            ``"250 UNTRAINED PARAMETERS: ..."`` (written as ``REMARK 250 UNTRAINED ...``).
    """

    atom_positions: np.ndarray
    atom_mask: np.ndarray
    aatype: np.ndarray
    residue_index: np.ndarray
    chain_index: np.ndarray
    b_factors: np.ndarray
    chain_ids: tuple[str, ...] = ()
    remarks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        aatype = _frozen_array(self.aatype, np.int32, "aatype", (None,))
        length = aatype.shape[0]
        fields = {
            "aatype": aatype,
            "atom_positions": _frozen_array(
                self.atom_positions, np.float32, "atom_positions", (length, NUM_ATOM37, 3)),
            "atom_mask": _frozen_array(self.atom_mask, np.float32, "atom_mask",
                                       (length, NUM_ATOM37)),
            "residue_index": _frozen_array(self.residue_index, np.int32, "residue_index",
                                           (length,)),
            "chain_index": _frozen_array(self.chain_index, np.int32, "chain_index", (length,)),
            "b_factors": _frozen_array(self.b_factors, np.float32, "b_factors",
                                       (length, NUM_ATOM37)),
        }
        if length and (aatype.min() < 0 or aatype.max() > UNKNOWN_INDEX):
            raise ValueError(f"Protein.aatype must lie in 0..{UNKNOWN_INDEX}")
        chain_index = fields["chain_index"]
        if length and chain_index.min() < 0:
            raise ValueError("Protein.chain_index must be non-negative")
        chain_ids = tuple(str(c) for c in self.chain_ids)
        num_chains = int(chain_index.max()) + 1 if length else 0
        if chain_ids:
            if len(chain_ids) < num_chains:
                raise ValueError(
                    f"Protein has {num_chains} chain indices but only {len(chain_ids)} chain ids")
            if len(set(chain_ids)) != len(chain_ids) or not all(chain_ids):
                raise ValueError(f"Protein.chain_ids must be unique and non-empty: {chain_ids}")
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "chain_ids", chain_ids)
        object.__setattr__(self, "remarks", tuple(normalize_remark(r) for r in self.remarks))

    # --- construction -------------------------------------------------------------

    @classmethod
    def from_prediction(
        cls,
        aatype: np.ndarray,
        final_atom_positions: np.ndarray,
        final_atom_mask: np.ndarray,
        residue_index: np.ndarray,
        plddt: np.ndarray | None = None,
        chain_index: np.ndarray | None = None,
        chain_ids: Sequence[str] = (),
        remarks: Sequence[str] = (),
    ) -> Protein:
        """The structure a model predicted.

        ``residue_index`` is the model's 0-based ``residue_index`` feature; files number
        residues from 1, as AlphaFold writes them. ``plddt`` ([L], 0-100) is broadcast over
        each residue's atoms into the B-factor column. ``chain_index`` defaults to one
        chain (for multimers pass ``asym_id - 1``).
        """
        aatype = np.asarray(aatype)
        length = aatype.shape[0]
        b_factors = np.zeros((length, NUM_ATOM37), dtype=np.float32)
        if plddt is not None:
            plddt = np.asarray(plddt, dtype=np.float32)
            if plddt.shape != (length,):
                raise ValueError(f"plddt has shape {plddt.shape}, expected ({length},)")
            b_factors = np.broadcast_to(plddt[:, None], (length, NUM_ATOM37))
        return cls(
            atom_positions=final_atom_positions,
            atom_mask=final_atom_mask,
            aatype=aatype,
            residue_index=np.asarray(residue_index, dtype=np.int64) + 1,
            chain_index=np.zeros(length, np.int32) if chain_index is None else chain_index,
            b_factors=b_factors,
            chain_ids=tuple(chain_ids),
            remarks=tuple(remarks),
        )

    def replace(self, **changes: Any) -> Protein:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def with_remarks(self, *remarks: str) -> Protein:
        """A copy with ``remarks`` appended (those already present are not repeated)."""
        merged = list(self.remarks)
        for remark in map(normalize_remark, remarks):
            if remark not in merged:
                merged.append(remark)
        return self.replace(remarks=tuple(merged))

    # --- views ---------------------------------------------------------------------

    @property
    def num_residues(self) -> int:
        return int(self.aatype.shape[0])

    @property
    def num_chains(self) -> int:
        return int(self.chain_index.max()) + 1 if self.num_residues else 0

    def chain_id(self, index: int) -> str:
        """The identifier of chain ``index`` (A, B, ... unless ``chain_ids`` says otherwise)."""
        if self.chain_ids:
            return self.chain_ids[index]
        if index >= PDB_MAX_CHAINS:
            raise ValueError(f"no default chain id for chain {index} (at most {PDB_MAX_CHAINS})")
        return PDB_CHAIN_IDS[index]

    def residue_chain_ids(self) -> list[str]:
        """The chain identifier of every residue."""
        names = [self.chain_id(i) for i in range(self.num_chains)]
        return [names[int(c)] for c in self.chain_index]

    def sequence(self, chain: int | None = None) -> str:
        """One-letter sequence (unknown residues as X), of one chain index or all residues."""
        aatype = self.aatype if chain is None else self.aatype[self.chain_index == chain]
        return "".join(RESTYPES_WITH_X[int(a)] for a in aatype)

    def residue_names(self) -> list[str]:
        """Three-letter names of the residues (UNK for unknown)."""
        return [RESIDUE_NAMES_WITH_UNK[int(a)] for a in self.aatype]

    def residue_b_factors(self) -> np.ndarray:
        """[L] mean B-factor over each residue's present atoms (the pLDDT for predictions)."""
        counts = self.atom_mask.sum(axis=1)
        total = (self.b_factors * self.atom_mask).sum(axis=1)
        return np.where(counts > 0, total / np.maximum(counts, 1), 0.0).astype(np.float32)

    def ideal_atom_mask(self) -> np.ndarray:
        """[L, 37] the heavy atoms each residue type should have."""
        return STANDARD_ATOM37_MASK[self.aatype].astype(np.float32)

    def select_chains(self, chain_indices: Sequence[int]) -> Protein:
        """The residues of the given chain indices, chains renumbered from 0 in that order."""
        keep = np.isin(self.chain_index, list(chain_indices))
        remap = {int(c): i for i, c in enumerate(chain_indices)}
        return Protein(
            atom_positions=self.atom_positions[keep],
            atom_mask=self.atom_mask[keep],
            aatype=self.aatype[keep],
            residue_index=self.residue_index[keep],
            chain_index=np.array([remap[int(c)] for c in self.chain_index[keep]], np.int32),
            b_factors=self.b_factors[keep],
            chain_ids=tuple(self.chain_id(int(c)) for c in chain_indices),
            remarks=self.remarks,
        )


def normalize_remark(remark: str) -> str:
    """A remark without the ``REMARK`` record name and outer white space, on one line.

    Inner spacing is kept, so PDB remark tables survive a round trip.
    """
    text = " ".join(str(remark).splitlines()).strip()
    if text.upper().startswith("REMARK"):
        text = text[len("REMARK"):].strip()
    return text


def from_gemmi_structure(
    structure: gemmi.Structure, chain_id: str | None = None, source: str = "structure"
) -> Protein:
    """Read the first-model protein residues of a gemmi structure into a :class:`Protein`.

    As AlphaFold's protein parser: only atoms with an atom37 name are kept; residues that
    are not one of the 20 standard types become unknown (20); residues without any atom37
    atom are dropped. Beyond it: hetero groups (HETATM records: waters, ligands, ions) are
    skipped, selenomethionine is read as methionine, and for alternative locations the
    first conformer is kept. Insertion codes cannot be represented and raise ValueError,
    as more than one model does. Chains keep their author identifiers, in file order.
    """
    from folding.errors import InputError

    if len(structure) == 0:
        raise InputError(
            f"{source}: no model with atoms; give a PDB or mmCIF file with ATOM records")
    if len(structure) > 1:
        raise InputError(
            f"{source}: has {len(structure)} models; only single-model files are supported "
            "(extract one model first)"
        )
    structure = structure.clone()
    structure.remove_alternative_conformations()
    model = structure[0]

    positions, masks, b_factors, aatype, numbers, chains = [], [], [], [], [], []
    chain_names: list[str] = []
    for chain in model:
        if chain_id is not None and chain.name != chain_id:
            continue
        for residue in chain:
            if residue.het_flag == "H" and residue.name not in MODIFIED_RESIDUES:
                continue
            if residue.seqid.icode not in (" ", ""):
                raise InputError(
                    f"{source}: chain {chain.name} residue {residue.seqid.num}"
                    f"{residue.seqid.icode} has an insertion code, which is not supported; "
                    "renumber the residues first"
                )
            name, renames = MODIFIED_RESIDUES.get(residue.name, (residue.name, {}))
            letter = THREE_TO_ONE.get(name)
            restype = RESIDUE_NAMES_WITH_UNK.index(name) if letter else UNKNOWN_INDEX
            pos = np.zeros((NUM_ATOM37, 3), np.float32)
            mask = np.zeros(NUM_ATOM37, np.float32)
            bfac = np.zeros(NUM_ATOM37, np.float32)
            for atom in residue:
                slot = ATOM37_INDEX.get(renames.get(atom.name, atom.name))
                if slot is None or mask[slot]:
                    continue
                pos[slot] = (atom.pos.x, atom.pos.y, atom.pos.z)
                mask[slot] = 1.0
                bfac[slot] = atom.b_iso
            if not mask.any():
                continue
            if chain.name not in chain_names:
                chain_names.append(chain.name)
            positions.append(pos)
            masks.append(mask)
            b_factors.append(bfac)
            aatype.append(restype)
            numbers.append(residue.seqid.num)
            chains.append(chain_names.index(chain.name))
    if not aatype:
        wanted = f" in chain {chain_id}" if chain_id is not None else ""
        raise InputError(f"{source}: no protein residues{wanted}; check the file and chain id")
    return Protein(
        atom_positions=np.stack(positions),
        atom_mask=np.stack(masks),
        aatype=np.array(aatype, np.int32),
        residue_index=np.array(numbers, np.int32),
        chain_index=np.array(chains, np.int32),
        b_factors=np.stack(b_factors),
        chain_ids=tuple(chain_names),
    )
