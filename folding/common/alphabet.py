"""The amino-acid alphabet and its integer encodings.

AlphaFold numbers the 20 standard residues in the alphabetical order of their
three-letter codes (ALA, ARG, ASN, ...), with X (unknown) as 20 and, in MSAs, the
gap as 21. Alignment tools (HH-suite) use another order, in which the 20 residues
are sorted by one-letter code; both encodings and the map between them live here.
"""

from __future__ import annotations

import numpy as np

#: Three-letter codes of the 20 standard residues, in AlphaFold's order.
RESIDUE_NAMES: tuple[str, ...] = (
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
    "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL",
)
#: One-letter codes in the same order: ARNDCQEGHILKMFPSTWYV.
RESTYPES: tuple[str, ...] = tuple("ARNDCQEGHILKMFPSTWYV")
NUM_RESTYPES = len(RESTYPES)  # 20
UNKNOWN_INDEX = NUM_RESTYPES  # X / UNK
GAP_INDEX = NUM_RESTYPES + 1  # '-' in MSAs
RESTYPES_WITH_X: tuple[str, ...] = (*RESTYPES, "X")
RESTYPES_WITH_X_AND_GAP: tuple[str, ...] = (*RESTYPES, "X", "-")

RESTYPE_INDEX: dict[str, int] = {r: i for i, r in enumerate(RESTYPES)}
RESTYPE_INDEX_WITH_X: dict[str, int] = {r: i for i, r in enumerate(RESTYPES_WITH_X)}
ONE_TO_THREE: dict[str, str] = dict(zip(RESTYPES, RESIDUE_NAMES, strict=True))
THREE_TO_ONE: dict[str, str] = dict(zip(RESIDUE_NAMES, RESTYPES, strict=True))
#: Three-letter names indexed by aatype, with UNK as 20.
RESIDUE_NAMES_WITH_UNK: tuple[str, ...] = (*RESIDUE_NAMES, "UNK")

#: Rare letters and how they are read (as HH-suite and AlphaFold read them):
#: U (selenocysteine) as C, B (D or N) as D, Z (E or Q) as E, O (pyrrolysine) and J (I or L) as X.
RARE_LETTERS: dict[str, str] = {"U": "C", "B": "D", "Z": "E", "O": "X", "J": "X"}

# HH-suite's order: the 20 residues sorted by one-letter code, then X, then the gap.
_HHBLITS_ORDER = "ACDEFGHIKLMNPQRSTVWYX-"
#: Letter -> HH-suite id, rare letters folded in as above.
HHBLITS_AA_TO_ID: dict[str, int] = {
    **{letter: i for i, letter in enumerate(_HHBLITS_ORDER)},
    **{rare: _HHBLITS_ORDER.index(common) for rare, common in RARE_LETTERS.items()},
}
#: HH-suite id -> AlphaFold id (index with an array of HH-suite ids).
HHBLITS_TO_AATYPE: np.ndarray = np.array(
    [RESTYPES_WITH_X_AND_GAP.index(letter) for letter in _HHBLITS_ORDER], dtype=np.int32
)


def sequence_to_aatype(sequence: str) -> np.ndarray:
    """AlphaFold ids (0-20) of an upper-case sequence; anything not standard becomes X (20)."""
    return np.array([RESTYPE_INDEX.get(r, UNKNOWN_INDEX) for r in sequence], dtype=np.int32)


def aatype_to_sequence(aatype: np.ndarray) -> str:
    """The one-letter sequence of AlphaFold ids (20 reads as X)."""
    return "".join(RESTYPES_WITH_X[int(i)] for i in aatype)


def sequence_to_onehot(sequence: str, with_x: bool = True) -> np.ndarray:
    """One-hot [L, 21] (or [L, 20] without X) of a sequence, non-standard letters as X."""
    depth = NUM_RESTYPES + 1 if with_x else NUM_RESTYPES
    ids = sequence_to_aatype(sequence)
    if not with_x and (ids == UNKNOWN_INDEX).any():
        raise ValueError("sequence has non-standard residues but with_x=False")
    onehot = np.zeros((len(sequence), depth), dtype=np.int32)
    onehot[np.arange(len(sequence)), ids] = 1
    return onehot
