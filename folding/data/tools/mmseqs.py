"""MMseqs2 searches as ``colabfold_search`` runs them (UniRef30, then an environmental DB).

ColabFold's search (Mirdita et al. 2022, the ``colabfold_search`` script) for one query:

1. ``search`` the query against the UniRef30 cluster database, 3 iterations, sensitivity 8;
2. ``expandaln`` the cluster hits to their members (``<db>_seq``, ``<db>_aln``);
3. ``align`` the members to the query profile of the last iteration, ``filterresult``
   them, and write the MSA with ``result2msa --msa-format-mode 6`` -> ``uniref.a3m``;
4. optionally the same with the query profile against the environmental database
   (ColabFoldDB: BFD, MGnify, MetaEuk, SMAG) -> ``bfd.mgnify30.metaeuk30.smag30.a3m``.

A database is the ColabFold layout: ``<db>`` (searched), ``<db>_seq`` (member sequences)
and ``<db>_aln`` (member alignments). :func:`build_colabfold_database` makes one from a
FASTA file with MMseqs2's own commands (cluster, then align members to representatives),
for the demo preset and the tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from folding.data.tools.base import find_binary, run_tool, tool_version
from folding.data.tools.msa_server import ENV_A3M
from folding.errors import MissingResourceError


@dataclass(frozen=True)
class MmseqsSettings:
    """colabfold_search's settings (its defaults: filtered MSAs, no index, sensitivity 8)."""

    sensitivity: float = 8.0  # search -s
    iterations: int = 3  # search --num-iterations
    search_e_value: float = 0.1  # search -e
    max_seqs: int = 10_000  # search --max-seqs
    align_e_value: float = 10.0  # align -e
    use_filter: bool = True  # ColabFold's FILTER=1: diversity-filtered MSAs
    diff: int = 3000  # result2msa --diff
    db_load_mode: int = 0  # 0: read the databases; 2: memory-map a prepared index

    @property
    def qsc(self) -> float:
        return 0.8 if self.use_filter else -20.0

    @property
    def max_accept(self) -> int:
        return 100_000 if self.use_filter else 1_000_000


@dataclass(frozen=True)
class MmseqsReport:
    uniref_a3m: Path
    env_a3m: Path | None
    commands: tuple[str, ...]
    version: str
    seconds: float


def check_database(db: str | os.PathLike[str]) -> None:
    """Fail clearly unless ``db`` is a ColabFold-layout MMseqs2 database."""
    missing = [f"{db}{part}.dbtype" for part in ("", "_seq", "_aln", "_seq_h")
               if not Path(f"{db}{part}.dbtype").is_file()]
    if missing:
        raise MissingResourceError(
            f"MMseqs2 database {db} is incomplete (missing {', '.join(missing)}); give the "
            "prefix of a ColabFold database (e.g. uniref30_2302_db) or build one with "
            "folding.data.tools.mmseqs.build_colabfold_database"
        )


class _Runner:
    def __init__(self, binary: str, threads: int, settings: MmseqsSettings) -> None:
        self.binary = binary
        self.threads = threads
        self.settings = settings
        self.commands: list[str] = []
        self.env = {"MMSEQS_CALL_DEPTH": "1", "MMSEQS_IGNORE_INDEX": "1"}
        self.seconds = 0.0

    def __call__(self, *args: object, threads: bool = True) -> None:
        argv = [self.binary, *map(str, args), "-v", "1"]
        if threads:
            argv += ["--threads", str(self.threads)]
        run = run_tool(argv, env=self.env, fix="check the query and the MMseqs2 databases")
        self.commands.append(run.command)
        self.seconds += run.seconds

    def search_params(self) -> list[str]:
        s = self.settings
        return ["--num-iterations", str(s.iterations), "--db-load-mode", str(s.db_load_mode),
                "-a", "-s", f"{s.sensitivity:g}", "-e", f"{s.search_e_value:g}",
                "--max-seqs", str(s.max_seqs)]

    def filter_params(self) -> list[str]:
        s = self.settings
        return ["--filter-msa", str(int(s.use_filter)), "--filter-min-enable", "1000",
                "--diff", str(s.diff), "--qid", "0.0,0.2,0.4,0.6,0.8,1.0", "--qsc", "0",
                "--max-seq-id", "0.95"]

    def msa(self, query_db: Path, profile: Path, db: str, hits: Path, work: Path, name: str,
            out: Path) -> None:
        """expandaln + align + filterresult + result2msa: cluster hits -> the member MSA."""
        s = self.settings
        load = ["--db-load-mode", str(s.db_load_mode)]
        expand_filter = ["--expand-filter-clusters", str(int(s.use_filter)), "--max-seq-id",
                         "0.95"] if name == "uniref" else []
        self("expandaln", query_db if name == "uniref" else profile, f"{db}_seq", hits,
             f"{db}_aln", work / f"{name}_exp", *load, "--expansion-mode", "0", "-e", "inf",
             *expand_filter)
        self("align", profile, f"{db}_seq", work / f"{name}_exp", work / f"{name}_realign",
             *load, "-e", f"{s.align_e_value:g}", "--max-accept", str(s.max_accept),
             "--alt-ali", "10", "-a")
        self("filterresult", query_db, f"{db}_seq", work / f"{name}_realign",
             work / f"{name}_filter", *load, "--qid", "0", "--qsc", f"{s.qsc:g}", "--diff", "0",
             "--max-seq-id", "1.0", "--filter-min-enable", "100")
        self("result2msa", query_db, f"{db}_seq", work / f"{name}_filter", out,
             "--msa-format-mode", "6", *load, *self.filter_params())


def run_colabfold_search(
    query: str | os.PathLike[str],
    uniref_db: str | os.PathLike[str],
    env_db: str | os.PathLike[str] | None,
    work_dir: str | os.PathLike[str],
    settings: MmseqsSettings = MmseqsSettings(),
    threads: int = 1,
    binary: str | None = None,
) -> MmseqsReport:
    """Run colabfold_search's steps for one query; the A3Ms are left in ``work_dir``."""
    start = time.perf_counter()
    check_database(uniref_db)
    if env_db is not None:
        check_database(env_db)
    program = find_binary("mmseqs", binary)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    run = _Runner(program, threads, settings)
    qdb, profile = work / "qdb", work / "prof_res"
    run("createdb", query, qdb, threads=False)
    run("search", qdb, uniref_db, work / "res", work / "tmp", *run.search_params())
    run("mvdb", work / "tmp/latest/profile_1", profile, threads=False)
    run("lndb", work / "qdb_h", work / "prof_res_h", threads=False)
    uniref_a3m = work / "uniref.a3m"
    run.msa(qdb, profile, str(uniref_db), work / "res", work, "uniref", uniref_a3m)
    env_a3m = None
    if env_db is not None:
        run("search", profile, env_db, work / "res_env", work / "tmp_env", *run.search_params())
        env_a3m = work / ENV_A3M
        run.msa(qdb, work / "tmp_env/latest/profile_1", str(env_db), work / "res_env", work,
                "env", env_a3m)
    version = "MMseqs2 " + tool_version(program, ["version"], pattern=r"^(\S+)")
    return MmseqsReport(uniref_a3m, env_a3m, tuple(run.commands), version,
                        time.perf_counter() - start)


def build_colabfold_database(
    fasta: str | os.PathLike[str], prefix: str | os.PathLike[str], threads: int = 1,
    min_seq_id: float = 0.3, coverage: float = 0.8, binary: str | None = None,
) -> Path:
    """Build a ColabFold-layout database ``<prefix>``, ``<prefix>_seq``, ``<prefix>_aln``.

    The sequences are clustered (``mmseqs cluster``); ``<prefix>`` holds the cluster
    representatives (searched), ``<prefix>_seq`` every sequence and ``<prefix>_aln`` the
    alignments of each cluster's members to its representative (for ``expandaln``).
    """
    fasta, prefix = Path(fasta), Path(prefix)
    if not fasta.is_file():
        raise MissingResourceError(f"FASTA file {fasta} not found; cannot build {prefix}")
    program = find_binary("mmseqs", binary)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=prefix.parent, prefix=".mmdb.") as tmp:
        work = Path(tmp)
        run = _Runner(program, threads, MmseqsSettings())
        seq, clu, rep = work / f"{prefix.name}_seq", work / "clu", work / prefix.name
        run("createdb", fasta, seq, threads=False)
        run("cluster", seq, clu, work / "tmp", "--min-seq-id", f"{min_seq_id:g}",
            "-c", f"{coverage:g}")
        run("createsubdb", clu, seq, rep, threads=False)
        run("createsubdb", clu, f"{seq}_h", f"{rep}_h", threads=False)
        run("align", seq, seq, clu, work / f"{prefix.name}_aln", "-a")
        for path in work.iterdir():
            if path.name.startswith(prefix.name) and path.is_file():
                shutil.move(str(path), prefix.parent / path.name)
    return prefix
