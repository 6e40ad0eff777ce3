"""hhblits (HH-suite) on BFD + UniRef30, as AlphaFold's ``full_dbs`` preset runs it.

AlphaFold calls ``hhblits -i Q -cpu N -oa3m OUT -o /dev/null -n 3 -e 0.001 -maxseq 1000000
-realign_max 100000 -maxfilt 100000 -min_prefilter_hits 1000 -d BFD -d UNIREF30``
(supplement 1.2.2) and keeps the A3M. :func:`run_hhblits` builds the same argument list.

:func:`build_hhsuite_database` makes a real HH-suite database (``_a3m``, ``_hhm`` and
``_cs219`` ffindex pairs) from a FASTA file with HH-suite's own programs, one entry per
sequence, as the HH-suite manual describes for custom databases; the demo preset and the
tests search such databases.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from folding.data.tools.base import find_binary, run_tool, tool_version
from folding.errors import MissingResourceError

#: HH-suite's data files (context libraries) in the usual installations.
DATA_DIRS = ("/usr/share/hhsuite/data", "/usr/lib/hhsuite/data", "/usr/local/share/hhsuite/data")
#: Debian ships cstranslate per CPU extension under this folder, not on PATH.
DEBIAN_LIBEXEC = Path("/usr/libexec/hhsuite")
_SIMD_ORDER = ("avx2", "avx", "sse4.1", "ssse3", "sse3")


@dataclass(frozen=True)
class HHblitsSettings:
    """hhblits options; the defaults are AlphaFold's (its ``HHBlits`` wrapper)."""

    iterations: int = 3  # -n
    e_value: float = 1e-3  # -e
    maxseq: int = 1_000_000  # -maxseq
    realign_max: int = 100_000  # -realign_max
    maxfilt: int = 100_000  # -maxfilt
    min_prefilter_hits: int = 1000  # -min_prefilter_hits
    all_seqs: bool = False  # -all
    alt: int | None = None  # -alt
    p: int = 20  # -p (hhblits' default; passed only when changed, as AlphaFold does)
    z: int = 500  # -Z (likewise)


@dataclass(frozen=True)
class HHblitsReport:
    command: str
    version: str
    seconds: float


def check_database(prefix: str | os.PathLike[str]) -> None:
    """Fail with a clear message unless ``prefix`` names an HH-suite database."""
    prefix = str(prefix)
    if not glob.glob(glob.escape(prefix) + "_*"):
        raise MissingResourceError(
            f"HH-suite database {prefix} not found (no {prefix}_a3m/_hhm/_cs219 files); "
            "give the database prefix, e.g. .../bfd/bfd_metaclust_clu_complete_id30_c90_final_seq"
        )
    for part in ("a3m", "cs219"):
        if not Path(f"{prefix}_{part}.ffindex").is_file():
            raise MissingResourceError(
                f"HH-suite database {prefix} lacks {prefix}_{part}.ffindex; "
                "rebuild or re-download it"
            )


def hhblits_argv(
    binary: str, query: str | os.PathLike[str], databases: Sequence[str | os.PathLike[str]],
    output_a3m: str | os.PathLike[str], settings: HHblitsSettings, threads: int,
) -> list[str]:
    """The argument list AlphaFold's wrapper builds for these settings."""
    argv = [
        binary, "-i", str(query), "-cpu", str(threads), "-oa3m", str(output_a3m),
        "-o", "/dev/null", "-n", str(settings.iterations), "-e", str(settings.e_value),
        "-maxseq", str(settings.maxseq), "-realign_max", str(settings.realign_max),
        "-maxfilt", str(settings.maxfilt), "-min_prefilter_hits", str(settings.min_prefilter_hits),
    ]
    if settings.all_seqs:
        argv.append("-all")
    if settings.alt:
        argv += ["-alt", str(settings.alt)]
    if settings.p != 20:
        argv += ["-p", str(settings.p)]
    if settings.z != 500:
        argv += ["-Z", str(settings.z)]
    for database in databases:
        argv += ["-d", str(database)]
    return argv


def run_hhblits(
    query: str | os.PathLike[str],
    databases: Sequence[str | os.PathLike[str]],
    output_a3m: str | os.PathLike[str],
    settings: HHblitsSettings = HHblitsSettings(),
    threads: int = 1,
    binary: str | None = None,
) -> HHblitsReport:
    """Run hhblits; the A3M goes to ``output_a3m`` (the caller makes it atomic)."""
    if not databases:
        raise MissingResourceError("hhblits needs at least one database (--database PREFIX)")
    for database in databases:
        check_database(database)
    program = find_binary("hhblits", binary)
    argv = hhblits_argv(program, query, databases, output_a3m, settings, threads)
    run = run_tool(argv, fix="check the query and the HH-suite databases")
    if not Path(output_a3m).is_file():
        raise MissingResourceError(f"hhblits wrote no alignment to {output_a3m}")
    return HHblitsReport(run.command, tool_version(program, pattern=r"^(HHblits [\d.]+)"),
                         run.seconds)


def data_file(name: str) -> Path:
    """An HH-suite data file (``cs219.lib``, ``context_data.lib``), from $HHLIB or the system."""
    folders = [Path(os.environ["HHLIB"]) / "data"] if "HHLIB" in os.environ else []
    for folder in [*folders, *map(Path, DATA_DIRS)]:
        if (folder / name).is_file():
            return folder / name
    raise MissingResourceError(
        f"HH-suite data file {name} not found (looked in $HHLIB/data and {', '.join(DATA_DIRS)}); "
        "install hhsuite (apt-get install hhsuite)"
    )


def hhsuite_binary(name: str) -> str:
    """An HH-suite program, preferring Debian's build for this CPU over its dispatch script.

    Debian installs each program once per CPU extension under /usr/libexec/hhsuite with a
    shell script on PATH that picks one on every call (too slow to run once per database
    entry; its cstranslate copy is broken). Elsewhere the program on PATH is used.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    for simd in _SIMD_ORDER:
        candidate = DEBIAN_LIBEXEC / f"{name}-{simd}"
        if f" {simd.replace('.', '_')}" in flags and os.access(candidate, os.X_OK):
            return str(candidate)
    plain = DEBIAN_LIBEXEC / f"{name}-plain"
    if os.access(plain, os.X_OK):
        return str(plain)
    return find_binary(name)


def build_hhsuite_database(
    fasta: str | os.PathLike[str], prefix: str | os.PathLike[str], threads: int = 1,
    with_hhm: bool = False,
) -> Path:
    """Build an HH-suite database ``<prefix>_{a3m,cs219}.ff{data,index}`` from a FASTA file.

    Each sequence becomes one single-sequence A3M entry (``ffindex_from_fasta``) and its
    column-state sequence comes from ``cstranslate``; hhblits needs nothing more. With
    ``with_hhm`` the HMMs (``<prefix>_hhm``, which hhsearch needs) are made by ``hhmake``
    through ``ffindex_apply``. Returns the prefix to pass to hhblits.
    """
    fasta = Path(fasta)
    prefix = Path(prefix)
    if not fasta.is_file():
        raise MissingResourceError(f"FASTA file {fasta} not found; cannot build {prefix}")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    env = {"OMP_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory(dir=prefix.parent, prefix=".hhdb.") as tmp:
        work = Path(tmp) / prefix.name
        run_tool([find_binary("ffindex_from_fasta"), "-s", f"{work}_a3m.ffdata",
                  f"{work}_a3m.ffindex", fasta], fix=f"check that {fasta} is a FASTA file")
        parts = ["a3m", "cs219"]
        if with_hhm:
            run_tool([find_binary("ffindex_apply"), f"{work}_a3m.ffdata", f"{work}_a3m.ffindex",
                      "-i", f"{work}_hhm.ffindex", "-d", f"{work}_hhm.ffdata", "--",
                      hhsuite_binary("hhmake"), "-i", "stdin", "-o", "stdout", "-v", "0"],
                     env=env)
            parts.append("hhm")
        run_tool([hhsuite_binary("cstranslate"), "-f", "-x", "0.3", "-c", "4", "-I", "a3m",
                  "-i", f"{work}_a3m", "-o", f"{work}_cs219", "-b",
                  "-A", data_file("cs219.lib"), "-D", data_file("context_data.lib")], env=env)
        for part in parts:
            for suffix in ("ffdata", "ffindex"):
                os.replace(f"{work}_{part}.{suffix}", f"{prefix}_{part}.{suffix}")
    return prefix
