"""Chains of a complex: their identifiers, entities and copies (AlphaFold-Multimer, supplement 7.2).

A complex is given as an ordered list of chain sequences. Each chain gets

* a **chain id**, the PDB-format letter of its position in the input (``A``, ``B``, ...,
  ``Z``, ``a``, ..., ``z``, ``0``, ..., ``9``: at most :data:`MAX_CHAINS`);
* an **entity id** (1, 2, ...): chains with the same sequence are one entity, numbered in
  the order the sequences first appear;
* a **sym id** (1, 2, ...): the copy number of the chain within its entity, in input order;
* an **asym id** (1, 2, ...): a number per chain, counted entity by entity.

In the features the chains are laid out **entity by entity** (all copies of entity 1, then
entity 2, ...), not in input order: for the input ``X, Y, X`` the residues are those of
chains ``A`` (X, copy 1), ``C`` (X, copy 2), then ``B`` (Y). :attr:`Assembly.chains` lists
the chains in that layout with their residue ranges, so predictions can be mapped back to
the input's chain ids. This is the order of AlphaFold's ``add_assembly_features``, whose
feature keys read ``<entity letter>_<sym id>`` (``A_1``, ``A_2``, ``B_1``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from folding.common.protein import PDB_CHAIN_IDS
from folding.errors import InputError

#: The most chains a complex can have: one PDB chain id each (A-Z, a-z, 0-9).
MAX_CHAINS = len(PDB_CHAIN_IDS)  # 62


def entity_letters(number: int) -> str:
    """The mmCIF-style label of a positive number: 1 -> A, 26 -> Z, 27 -> AA, 28 -> BA, ...

    The first letter varies fastest ("reverse spreadsheet" naming), as AlphaFold names the
    entities of a complex.
    """
    if number < 1:
        raise ValueError(f"entity numbers start at 1, not {number}")
    letters = []
    remaining = number - 1
    while remaining >= 0:
        letters.append(chr(ord("A") + remaining % 26))
        remaining = remaining // 26 - 1
    return "".join(letters)


@dataclass(frozen=True)
class AssemblyChain:
    """One chain of a complex, where it sits in the features and what it is a copy of.

    Attributes:
        chain_id: the PDB chain id of its position in the input (``A`` for the first chain).
        sequence: its sequence (upper-case one-letter codes).
        description: the FASTA description it came with (may be empty).
        entity_id: 1-based; chains with equal sequences share it.
        sym_id: 1-based copy number within the entity, in input order.
        asym_id: 1-based index of the chain in the feature layout (entity by entity).
        start: index of its first residue in the features; it covers ``start:end``.
    """

    chain_id: str
    sequence: str
    description: str
    entity_id: int
    sym_id: int
    asym_id: int
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.sequence)

    @property
    def key(self) -> str:
        """AlphaFold's name for the chain in its assembly: ``<entity letters>_<sym id>``."""
        return f"{entity_letters(self.entity_id)}_{self.sym_id}"


@dataclass(frozen=True)
class Assembly:
    """The chains of a complex, in feature layout order (entity by entity, copies in order)."""

    chains: tuple[AssemblyChain, ...]

    @classmethod
    def from_sequences(
        cls, sequences: Sequence[str], descriptions: Sequence[str] | None = None
    ) -> Assembly:
        """The assembly of chains given in input order (ids ``A``, ``B``, ... in that order)."""
        sequences = [s.upper() for s in sequences]
        descriptions = list(descriptions) if descriptions is not None else [""] * len(sequences)
        if len(descriptions) != len(sequences):
            raise ValueError(f"{len(sequences)} sequences but {len(descriptions)} descriptions")
        check_chain_count(len(sequences))
        entity_of: dict[str, int] = {}
        members: dict[int, list[int]] = {}
        for index, sequence in enumerate(sequences):
            if not sequence:
                raise InputError(f"chain {PDB_CHAIN_IDS[index]} has an empty sequence; give "
                                 "its residues or remove it")
            entity = entity_of.setdefault(sequence, len(entity_of) + 1)
            members.setdefault(entity, []).append(index)
        chains = []
        start = 0
        for entity in sorted(members):
            for sym, index in enumerate(members[entity], start=1):
                chains.append(AssemblyChain(
                    chain_id=PDB_CHAIN_IDS[index], sequence=sequences[index],
                    description=descriptions[index], entity_id=entity, sym_id=sym,
                    asym_id=len(chains) + 1, start=start))
                start += len(sequences[index])
        return cls(tuple(chains))

    def __len__(self) -> int:
        return len(self.chains)

    @property
    def num_res(self) -> int:
        return sum(len(c.sequence) for c in self.chains)

    @property
    def num_entities(self) -> int:
        return len({c.entity_id for c in self.chains})

    @property
    def is_heteromer(self) -> bool:
        """More than one distinct sequence: MSA rows are then paired between chains."""
        return self.num_entities > 1

    def entity_representatives(self) -> tuple[AssemblyChain, ...]:
        """The first copy of each entity (whose searches stand for all its copies)."""
        return tuple(c for c in self.chains if c.sym_id == 1)

    def in_input_order(self) -> tuple[AssemblyChain, ...]:
        """The chains in the order they were given (chain ids A, B, ...)."""
        return tuple(sorted(self.chains, key=lambda c: PDB_CHAIN_IDS.index(c.chain_id)))

    def chain_id_map(self) -> dict[str, dict[str, str]]:
        """AlphaFold's ``chain_id_map.json``: chain id -> its sequence and description."""
        return {c.chain_id: {"description": c.description, "sequence": c.sequence}
                for c in self.in_input_order()}


def check_chain_count(count: int, where: str = "the complex") -> None:
    """Refuse a complex with no chain or with more chains than PDB chain ids exist."""
    if count < 1:
        raise InputError(f"{where} has no chains; give at least one protein sequence")
    if count > MAX_CHAINS:
        raise InputError(
            f"{where} has {count} chains, more than the {MAX_CHAINS} the multimer model "
            "supports (one PDB chain id each); predict it as smaller sub-complexes"
        )
