"""FASTA inputs -> checked complexes (targets with several chains), before any search.

The monomer reader (:mod:`folding.inputs`) makes every record one single-chain target.
This reader accepts complexes written the ways users write them, and gives the same
:class:`~folding.inputs.Target` type with one :class:`~folding.inputs.Chain` per chain
(every copy listed):

* **ColabFold style**: one record, chains separated by ``:`` (``>dimer`` then
  ``MKV...:GSH...``; the separator may also end or start a line);
* **several records under one name**: consecutive records whose names are equal (ignoring
  case, after sanitising) are the chains of one target, in order; CASP's ``H1065.fasta``
  lists its two subunits this way. Records of one name that are not consecutive are an
  error, as are equal names in different files;
* **one complex per file** (``one_complex_per_file=True``, AlphaFold's multimer
  convention): every record of a file is a chain of one target named after the file;
* **copy numbers**: ``copies=N`` in a header repeats that record's chains N times
  (``>homotrimer copies=3``; a record ``A:B`` with ``copies=2`` gives ``A, B, A, B``).

Every chain passes the monomer checks (:mod:`folding.inputs`: letters, empty, only X,
DNA/RNA, length), its messages naming the chain (``record 'x' chain 2``). A complex is
also refused, with one line naming it and the fix, when its total length exceeds
``max_length``, when it has more than ``max_chains`` chains (at most
:data:`~folding.data.multimer.chains.MAX_CHAINS`, one PDB chain id each), or when a
chain is empty (``A::B``, a trailing ``:``). A single-chain record stays a monomer target.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from folding.data.multimer.chains import MAX_CHAINS
from folding.errors import InputError
from folding.inputs import (
    CHAIN_SEPARATOR,
    DEFAULT_MAX_LENGTH,
    RARE_LETTERS,
    STANDARD_LETTERS,
    Chain,
    CheckedInputs,
    FastaRecord,
    Rejected,
    Target,
    character_hint,
    check_name,
    check_sequence,
    fasta_files,
    read_fasta_text,
    sanitise_name,
    split_records,
)

logger = logging.getLogger(__name__)

_COPIES = re.compile(r"^copies=(\S*)$", re.IGNORECASE)


@dataclass(frozen=True)
class _Piece:
    """One chain of a record: its lines (line number, column of its first letter, text)."""

    lines: tuple[tuple[int, int, str], ...]

    @property
    def sequence(self) -> str:
        return "".join(text for _, _, text in self.lines)


def _split_chains(record: FastaRecord) -> list[_Piece]:
    pieces: list[list[tuple[int, int, str]]] = [[]]
    for number, line in record.lines:
        column = 1
        for index, part in enumerate(line.split(CHAIN_SEPARATOR)):
            if index:
                pieces.append([])
            if part:
                pieces[-1].append((number, column, part))
            column += len(part) + 1
    return [_Piece(tuple(p)) for p in pieces]


def _copies(path: Path, record: FastaRecord, name: str, max_chains: int) -> int:
    found = [m.group(1) for word in record.header.split()[1:] if (m := _COPIES.match(word))]
    if not found:
        return 1
    if len(found) > 1:
        raise InputError(f"{path}: record '{name}' gives copies= {len(found)} times; "
                         "give it once")
    text = found[0]
    if not text.isdigit() or not 1 <= int(text) <= max_chains:
        raise InputError(f"{path}: record '{name}' has copies={text}; give a whole number "
                         f"from 1 to {max_chains}")
    return int(text)


def _check_letters(path: Path, name: str, label: str, piece: _Piece) -> None:
    """The first character that is not a residue letter, with its exact place."""
    position = 0
    for number, start, text in piece.lines:
        for offset, char in enumerate(text):
            position += 1
            upper = char.upper()
            if upper in STANDARD_LETTERS or upper in RARE_LETTERS:
                continue
            shown = repr(char) if not char.isprintable() or char.isspace() else f"'{char}'"
            hint = character_hint(char, position, len(piece.sequence))
            raise InputError(
                f"{path}: record '{name}'{label}: invalid character {shown} at residue "
                f"{position} (line {number}, column {start + offset}); {hint}"
            )


def _check_chain(path: Path, record: FastaRecord, name: str, piece: _Piece, number: int | None,
                 max_length: int) -> tuple[Chain, list[str]]:
    """A chain through the monomer checks; ``number`` names it in messages (None: the only one)."""
    label = f" chain {number}" if number is not None else ""
    if not piece.lines:
        raise InputError(
            f"{path}: record '{name}'{label} is empty; remove the extra '{CHAIN_SEPARATOR}' "
            "or add the chain's sequence"
        )
    _check_letters(path, name, label, piece)
    lines = tuple((line, text) for line, _, text in piece.lines)
    single = FastaRecord(record.header, lines, record.number, record.line)
    try:
        chains, warnings = check_sequence(path, single, name, max_length)
    except InputError as error:
        message = str(error).replace(f"record '{name}'", f"record '{name}'{label}", 1)
        if label and "looks like" in message:
            message = message.replace(
                "this pipeline predicts proteins: give the protein sequence",
                "this pipeline predicts protein chains: remove the nucleic-acid chain")
        raise InputError(message) from error
    prefix = f"chain {number}: " if number is not None else ""
    return chains[0], [prefix + w for w in warnings]


def _check_complex(where: str, name: str, chains: list[Chain], max_length: int,
                   max_chains: int) -> None:
    if len(chains) > max_chains:
        supported = ("the multimer model supports (one PDB chain id each)"
                     if max_chains == MAX_CHAINS else "allowed (--max-chains)")
        raise InputError(
            f"{where}: target '{name}' has {len(chains)} chains, more than the {max_chains} "
            f"{supported}; predict it as smaller sub-complexes"
        )
    total = sum(len(c) for c in chains)
    if len(chains) > 1 and total > max_length:
        raise InputError(
            f"{where}: target '{name}' has {total} residues in {len(chains)} chains, more "
            f"than the maximum {max_length}; predict a smaller sub-complex or raise "
            "--max-length"
        )


@dataclass
class _Group:
    """The records of one target, before they are checked."""

    name: str
    records: list[FastaRecord]
    name_warnings: list[str]

    @property
    def number(self) -> int:
        return self.records[0].number


def _description(header: str) -> str:
    """The header without its ``copies=N`` words (the chains are listed one by one)."""
    return " ".join(w for w in header.split() if not _COPIES.match(w))


def _group_records(path: Path, records: list[FastaRecord], one_complex_per_file: bool,
                   rejected: list[Rejected]) -> list[_Group]:
    groups: list[_Group] = []
    if one_complex_per_file:
        groups.append(_Group(sanitise_name(path.stem), [], []))
    for record in records:
        try:
            name, warnings = check_name(path, record)
            if one_complex_per_file:
                group = groups[0]
            elif groups and groups[-1].name.lower() == name.lower():
                group = groups[-1]
            else:
                earlier = next((g for g in groups if g.name.lower() == name.lower()), None)
                if earlier is not None:
                    raise InputError(
                        f"{path}: record {record.number} is named '{name}' like record "
                        f"{earlier.number}, with other records between; list a complex's "
                        "chains one after another, and give other targets their own names"
                    )
                group = _Group(name, [], [])
                groups.append(group)
        except InputError as error:
            logger.error("%s", error)
            rejected.append(Rejected(f"{path}:{record.number}", str(error)))
            continue
        group.records.append(record)
        group.name_warnings.extend(w for w in warnings if w not in group.name_warnings)
    return [g for g in groups if g.records]


def _target(path: Path, group: _Group, max_length: int, max_chains: int,
            one_complex_per_file: bool) -> Target:
    name = group.name
    split = [(record, _split_chains(record)) for record in group.records]
    several = sum(len(pieces) for _, pieces in split) > 1
    chains: list[Chain] = []
    warnings = list(group.name_warnings)
    number = 0
    for record, pieces in split:
        copies = _copies(path, record, name, MAX_CHAINS)
        if not any(p.lines for p in pieces):
            where = f"record {record.number} ('{name}')" if len(split) > 1 else f"record '{name}'"
            raise InputError(f"{path}: {where} has an empty sequence; add its sequence or "
                             "remove the record")
        checked = []
        for piece in pieces:
            number += 1
            chain, chain_warnings = _check_chain(path, record, name, piece,
                                                 number if several else None, max_length)
            checked.append(chain)
            warnings.extend(chain_warnings)
        chains.extend(checked * copies)
    _check_complex(str(path), name, chains, max_length, max_chains)
    first = group.records[0]
    if one_complex_per_file:
        description = f"{name} {path.name}"
    else:
        description = _description(first.header.strip())
    return Target(name, tuple(chains), description, f"{path}:{first.number}", tuple(warnings))


def read_complexes(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    max_length: int = DEFAULT_MAX_LENGTH,
    max_chains: int = MAX_CHAINS,
    skip_invalid: bool = False,
    one_complex_per_file: bool = False,
) -> CheckedInputs:
    """Read and check the complexes (and monomers) in the FASTA file(s) or folder(s).

    ``max_length`` bounds each chain and each complex's total length; ``max_chains`` the
    number of chains (at most :data:`~folding.data.multimer.chains.MAX_CHAINS`). A bad
    target is rejected whole (all its records). Errors, ``skip_invalid`` and the result
    are as in :func:`folding.inputs.read_targets`.
    """
    if max_length < 1:
        raise InputError(f"--max-length must be a positive number of residues, not {max_length}")
    if not 1 <= max_chains <= MAX_CHAINS:
        raise InputError(f"--max-chains must be from 1 to {MAX_CHAINS}, not {max_chains}")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    targets: list[Target] = []
    rejected: list[Rejected] = []
    seen: dict[str, str] = {}
    for path in [f for p in paths for f in fasta_files(p)]:
        try:
            records = split_records(path, read_fasta_text(path))
            if not records:
                raise InputError(f"{path}: no '>' record found; give at least one '>name' record")
        except InputError as error:
            logger.error("%s", error)
            rejected.append(Rejected(str(path), str(error)))
            continue
        for group in _group_records(path, records, one_complex_per_file, rejected):
            source = f"{path}:{group.number}"
            try:
                target = _target(path, group, max_length, max_chains, one_complex_per_file)
                key = target.name.lower()
                if key in seen:
                    what = "record" if target.is_monomer else "target"  # monomers: as ever
                    raise InputError(
                        f"{path}: record {group.number} is named '{target.name}' like "
                        f"{seen[key]} (names are compared ignoring case); give each {what} a "
                        "unique name"
                    )
            except InputError as error:
                logger.error("%s", error)
                rejected.append(Rejected(source, str(error)))
                continue
            seen[key] = f"record {group.number} of {path}"
            for warning in target.warnings:
                logger.warning("target %s: %s", target.name, warning)
            targets.append(target)
    if rejected and not skip_invalid:
        more = len(rejected) - 1
        extra = f" ({more} more {'problem' if more == 1 else 'problems'} logged above)"
        raise InputError(rejected[0].message + (extra if more else ""))
    if not targets:
        reasons = f" ({len(rejected)} rejected)" if rejected else ""
        raise InputError(f"no valid target in the input{reasons}; fix the records listed above")
    return CheckedInputs(tuple(targets), tuple(rejected))
