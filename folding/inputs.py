"""FASTA inputs -> checked, typed prediction targets: the checks of one chain.

:func:`read_targets` reads every FASTA record as one single-chain target and refuses a
record with several chains separated by ``:``. ``folding inputs check`` and the workflow
read monomers and complexes alike with
:func:`folding.data.multimer.inputs.read_complexes` (``A:B`` records, consecutive
records of one name, ``copies=N``), which runs every chain through the checks below
(:func:`check_name`, :func:`check_sequence`; the building blocks :func:`read_fasta_text`,
:func:`split_records` and :func:`character_hint` are public for it).

Checks, each failing with one line that names the file, the record and the fix:

* the file exists, is UTF-8 text, starts with a ``>`` header and holds at least one record
  (a folder is read file by file: ``*.fasta``, ``*.fa``, ``*.faa``, ``*.fas``, sorted);
* letters: the 20 standard residues and X, in any case (stored upper case); the rare
  letters U, B, Z, O, J are kept as AlphaFold keeps them (the search tools see them; the
  sequence features read them as X; the MSA features read U as C, B as D, Z as E, O and J
  as X) and each one raises a warning; any other character (digits, ``*``, ``-``, ``.``,
  spaces inside a line) is an error naming the record and the 1-based position;
* empty sequences, sequences of only X, and sequences that look like DNA or RNA (at least
  six letters, all of A, C, G, T, U, N, with a T or a U) are refused;
* sequences longer than ``max_length`` (default :data:`DEFAULT_MAX_LENGTH`) are refused;
* names: the target name is the first word of the header. Names are sanitised, never
  silently dropped, by one fixed rule: every character other than ``A-Z a-z 0-9 _ . -``
  becomes ``_`` (so ``/`` and ``|`` do), then each leading ``.`` or ``-`` becomes ``_`` (no
  hidden files, no ``..``, nothing that reads as an option). ``sp|P69905|HBA_HUMAN``
  becomes ``sp_P69905_HBA_HUMAN`` and ``../x`` becomes ``___x``. A header with a control
  character, an empty name, or a name longer than :data:`MAX_NAME_LENGTH` is refused;
* two records whose sanitised names are equal ignoring case (the same folder on macOS
  and Windows) are refused.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from folding.common.alphabet import RARE_LETTERS, RESTYPES
from folding.errors import InputError

logger = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 5000
MAX_NAME_LENGTH = 100
FASTA_SUFFIXES = (".fasta", ".fa", ".faa", ".fas")
CHAIN_SEPARATOR = ":"

STANDARD_LETTERS = frozenset(RESTYPES) | {"X"}
_RARE_NAMES = {
    "U": "selenocysteine", "O": "pyrrolysine", "B": "D or N", "Z": "E or Q", "J": "I or L",
}
_NUCLEIC = frozenset("ACGTUN")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Chain:
    """One protein chain of a target: its upper-case sequence."""

    sequence: str

    def __len__(self) -> int:
        return len(self.sequence)


@dataclass(frozen=True)
class Target:
    """One prediction target: a folder-safe name, its chains and where it came from.

    ``description`` is the original header line (without ``>``); ``source`` is
    ``<file>:<record number>``; ``warnings`` are the non-fatal findings (rare letters,
    a sanitised name).
    """

    name: str
    chains: tuple[Chain, ...]
    description: str
    source: str
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_monomer(self) -> bool:
        return len(self.chains) == 1

    @property
    def sequence(self) -> str:
        """The sequence of a single-chain target."""
        if not self.is_monomer:
            raise ValueError(f"target {self.name} has {len(self.chains)} chains")
        return self.chains[0].sequence

    def __len__(self) -> int:
        return sum(len(chain) for chain in self.chains)

    def to_fasta(self) -> str:
        """The target as FASTA: ``>name rest-of-header`` then the sequence on one line."""
        rest = self.description.split(maxsplit=1)[1:] if self.description else []
        header = " ".join([self.name, *rest])
        return f">{header}\n{CHAIN_SEPARATOR.join(c.sequence for c in self.chains)}\n"


@dataclass(frozen=True)
class Rejected:
    """A record that failed a check, and why (the one-line message)."""

    source: str
    message: str


@dataclass(frozen=True)
class CheckedInputs:
    """The result of reading inputs: the valid targets and the rejected records."""

    targets: tuple[Target, ...]
    rejected: tuple[Rejected, ...]


def sanitise_name(name: str) -> str:
    """The folder-safe form of a target name (the rule is in the module docstring)."""
    safe = _UNSAFE.sub("_", name)
    stripped = safe.lstrip(".-")
    return "_" * (len(safe) - len(stripped)) + stripped


def fasta_files(path: str | os.PathLike[str]) -> list[Path]:
    """The FASTA files ``path`` names: itself, or the FASTA files in the folder, sorted."""
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in FASTA_SUFFIXES
        )
        if not files:
            raise InputError(
                f"{path}: no FASTA files ({', '.join('*' + s for s in FASTA_SUFFIXES)}) in "
                "this folder; point --input at a FASTA file or a folder of them"
            )
        return files
    if not path.exists():
        raise InputError(f"{path}: no such file or folder; check the --input path")
    return [path]


def read_fasta_text(path: Path) -> str:
    """The text of a FASTA file; unreadable, non-UTF-8 or empty files are refused."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror}); check its permissions") \
            from error
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: not a text file (byte {error.start + 1} is not UTF-8); give a FASTA file"
        ) from error
    if not text.strip():
        raise InputError(f"{path}: the file is empty; give at least one '>name' record")
    return text


@dataclass(frozen=True)
class FastaRecord:
    """One ``>`` record: its header (without ``>``), its sequence lines, its number (1-based)
    and the line number of its header."""

    header: str
    lines: tuple[tuple[int, str], ...]  # (line number, stripped line)
    number: int
    line: int


def split_records(path: Path, text: str) -> list[FastaRecord]:
    """The records of a FASTA file's text (text before the first header is an error)."""
    records: list[FastaRecord] = []
    header: str | None = None
    header_line = 0
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if raw.startswith(">"):
            if header is not None:
                records.append(FastaRecord(header, tuple(lines), len(records) + 1, header_line))
            header, header_line, lines = raw[1:].rstrip("\r\n"), number, []
        elif header is None:
            if line:
                raise InputError(
                    f"{path}: line {number} comes before the first '>' header; "
                    "a FASTA file starts with a '>name' line"
                )
        elif line:
            lines.append((number, line))
    if header is not None:
        records.append(FastaRecord(header, tuple(lines), len(records) + 1, header_line))
    return records


def check_name(path: Path, record: FastaRecord) -> tuple[str, list[str]]:
    """The record's sanitised target name and the notes about it (a renamed name)."""
    where = f"{path}: record {record.number} (line {record.line})"
    if _CONTROL.search(record.header):
        raise InputError(
            f"{where}: the header contains a control character; remove it from the name"
        )
    words = record.header.split()
    if not words:
        raise InputError(f"{where}: the header has no name; write a name after '>'")
    raw = words[0]
    name = sanitise_name(raw)
    if len(name) > MAX_NAME_LENGTH:
        raise InputError(
            f"{where}: the name '{raw[:20]}...' is {len(name)} characters long; "
            f"shorten it to at most {MAX_NAME_LENGTH}"
        )
    warnings = []
    if name != raw:
        warnings.append(f"name '{raw}' is used as '{name}' (unsafe characters replaced by '_')")
    return name, warnings


def check_sequence(
    path: Path, record: FastaRecord, name: str, max_length: int
) -> tuple[tuple[Chain, ...], list[str]]:
    """The record's sequence as one checked chain, and the warnings (rare letters).

    Refuses, naming the record: an empty sequence, several ``:``-separated chains (see
    the module docstring), a character that is no residue letter, only X, DNA or RNA,
    and more than ``max_length`` residues.
    """
    where = f"{path}: record '{name}'"
    sequence = "".join(line for _, line in record.lines)
    if not sequence:
        raise InputError(f"{where} has an empty sequence; add its sequence or remove the record")
    if CHAIN_SEPARATOR in sequence:
        count = sequence.count(CHAIN_SEPARATOR) + 1
        raise InputError(
            f"{where} has {count} chains separated by '{CHAIN_SEPARATOR}'; this reader takes "
            "single chains: read complexes with `folding inputs check` (read_complexes), or "
            "give each chain as its own record to predict them as monomers"
        )
    position = 0
    for number, line in record.lines:
        for column, char in enumerate(line, start=1):
            position += 1
            upper = char.upper()
            if upper in STANDARD_LETTERS or upper in RARE_LETTERS:
                continue
            shown = repr(char) if not char.isprintable() or char.isspace() else f"'{char}'"
            hint = character_hint(char, position, len(sequence))
            raise InputError(
                f"{where}: invalid character {shown} at residue {position} (line {number}, "
                f"column {column}); {hint}"
            )
    sequence = sequence.upper()
    if set(sequence) == {"X"}:
        raise InputError(f"{where} has only unknown residues (X); give the real sequence")
    if len(sequence) >= 6 and set(sequence) <= _NUCLEIC and set(sequence) & {"T", "U"}:
        kind = "RNA" if "U" in sequence else "DNA"
        raise InputError(
            f"{where} looks like {kind} (only A, C, G, {'U' if kind == 'RNA' else 'T'}, N); "
            "this pipeline predicts proteins: give the protein sequence"
        )
    if len(sequence) > max_length:
        raise InputError(
            f"{where} is {len(sequence)} residues long, more than the maximum {max_length}; "
            "split it into domains or raise --max-length"
        )
    warnings = []
    for letter in sorted(set(sequence) & set(RARE_LETTERS)):
        first = sequence.index(letter) + 1
        count = sequence.count(letter)
        read_as = RARE_LETTERS[letter]
        warnings.append(
            f"{count} x {letter} ({_RARE_NAMES[letter]}), first at residue {first}: "
            f"read as X in the sequence features and as {read_as} in the MSA, as AlphaFold does"
        )
    return (Chain(sequence),), warnings


def character_hint(char: str, position: int, length: int) -> str:
    """How to fix a character that is no residue letter (a stop codon, a gap, a digit)."""
    if char == "*":
        if position == length:
            return "remove the trailing '*' (a stop codon)"
        return "remove the '*' (a stop codon inside the sequence)"
    if char in "-.":
        return "give the unaligned sequence, without gaps"
    if char.isdigit():
        return "remove the numbers (residue counts from a GenBank-style listing)"
    if char.isspace():
        return "remove the spaces inside the sequence line"
    return "use only the one-letter amino-acid codes (20 standard, X, U, O, B, Z, J)"


def read_targets(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    max_length: int = DEFAULT_MAX_LENGTH,
    skip_invalid: bool = False,
) -> CheckedInputs:
    """Read and check every record of the FASTA file(s) or folder(s) in ``paths``.

    Every problem is logged. With ``skip_invalid=False`` (the default) any problem raises
    :class:`InputError` with the first one's message (and how many more there are); with
    ``skip_invalid=True`` bad records are returned in ``rejected`` and the valid ones in
    ``targets``. Raises :class:`InputError` when no valid target is left.
    """
    if max_length < 1:
        raise InputError(f"--max-length must be a positive number of residues, not {max_length}")
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
        for record in records:
            source = f"{path}:{record.number}"
            try:
                name, name_warnings = check_name(path, record)
                chains, warnings = check_sequence(path, record, name, max_length)
                key = name.lower()
                if key in seen:
                    raise InputError(
                        f"{path}: record {record.number} is named '{name}' like {seen[key]} "
                        "(names are compared ignoring case); give each record a unique name"
                    )
            except InputError as error:
                logger.error("%s", error)
                rejected.append(Rejected(source, str(error)))
                continue
            seen[key] = f"record {record.number} of {path}"
            target = Target(name, chains, record.header.strip(), source,
                            tuple(name_warnings + warnings))
            for note in name_warnings:  # common (UniProt 'sp|...|...' names): not a warning
                logger.info("target %s: %s", name, note)
            for warning in warnings:
                logger.warning("target %s: %s", name, warning)
            targets.append(target)
    if rejected and not skip_invalid:
        more = len(rejected) - 1
        extra = f" ({more} more {'problem' if more == 1 else 'problems'} logged above)"
        raise InputError(rejected[0].message + (extra if more else ""))
    if not targets:
        reasons = f" ({len(rejected)} rejected)" if rejected else ""
        raise InputError(f"no valid target in the input{reasons}; fix the records listed above")
    return CheckedInputs(tuple(targets), tuple(rejected))
