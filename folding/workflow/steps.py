"""The search steps of each preset and MSA mode: which tool searches which database.

A search is one job per (sequence, database): the preset and ``msa_mode`` decide which
databases are searched with which tool (AlphaFold's choices, supplement 1.2.2):

==============  ================================================================
full_dbs        jackhmmer UniRef90, jackhmmer MGnify, HHblits BFD + UniRef30;
                templates: HHsearch PDB70 (``pdb_hits.hhr``)
reduced_dbs     jackhmmer UniRef90, jackhmmer small BFD;
                templates: hmmsearch PDB seqres (``pdb_hits.sto``), mmCIFs on demand
demo            jackhmmer UniRef90, MGnify and small BFD (tiny databases);
                templates: hmmsearch PDB seqres
msa_mode        ``mmseqs2``: ColabFold's MMseqs2 search (``uniref.a3m`` + environmental
                A3M); ``server``: the same files from an MSA server; ``precomputed``:
                the MSA files already in ``precomputed_msa_dir/<target>/``
==============  ================================================================

**Templates of the ColabFold modes.** ``mmseqs2`` (and ``precomputed`` with ColabFold's
files) searches the preset's template database with the preset's tool (HHsearch PDB70,
or hmmsearch PDB seqres) using ColabFold's joined A3Ms (``uniref.a3m``, then the
environmental A3M) as the query MSA. ``server`` takes the server's templates, as
ColabFold does: the search also fetches ``pdb70.m8`` and the templates its first 20 hits
name (``templates_101/``: mmCIFs and their HH-suite database); the template job runs
hhsearch of the joined A3Ms against that database (``pdb_hits.hhr``), and the features
read the mmCIF files from the search's cache folder, so no local template database is
needed.

**Complexes** get these searches per distinct chain (:mod:`folding.workflow.plan`), and
heteromers also AlphaFold-Multimer's UniProt search for pairing (:func:`pairing_step`);
their templates come from hmmsearch against PDB seqres for every preset
(:func:`multimer_template_step`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from folding.data.templates.m8 import M8_FILE
from folding.data.tools.msa_server import ENV_A3M, TEMPLATE_DIR
from folding.workflow.settings import WorkflowSettings

#: File names a precomputed MSA folder may hold (AlphaFold's and ColabFold's).
PRECOMPUTED_MSA_FILES = (
    "uniref90_hits.sto", "mgnify_hits.sto", "small_bfd_hits.sto", "bfd_uniref_hits.a3m",
    "bfd_uniclust_hits.a3m", "uniref.a3m", ENV_A3M,
)
_HH_SUFFIXES = tuple(f"_{kind}.{ext}" for kind in ("a3m", "hhm", "cs219")
                     for ext in ("ffdata", "ffindex"))
#: AlphaFold-Multimer's UniProt search for pairing (``max_uniprot_hits``).
MAX_UNIPROT_HITS = 50_000
UNIPROT_FASTA = Path("uniprot/uniprot.fasta")


@dataclass(frozen=True)
class SearchStep:
    """One kind of MSA search job (run once per distinct sequence)."""

    name: str  # stage name suffix: msa_<name>
    tool: str  # jackhmmer | hhblits | mmseqs2 | server | precomputed
    db_name: str | None  # folding search --db-name
    databases: tuple[Path, ...]
    outputs: tuple[str, ...]
    identity_files: tuple[Path, ...]
    manifest_databases: tuple[str, ...]
    threads: int
    mem_mb: int
    settings: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    @property
    def stage(self) -> str:
        return f"msa_{self.name}"


@dataclass(frozen=True)
class TemplateStep:
    """The template search: which tool, database and MSA, and where the mmCIFs are."""

    tool: str  # hmmsearch | hhsearch
    database: Path
    output: str
    msa_step: str
    msa_file: str
    mmcif_dir: Path
    obsolete: Path
    identity_files: tuple[Path, ...]
    manifest_databases: tuple[str, ...]
    fetch_on_demand: bool
    threads: int = 2
    mem_mb: int = 4000
    env_msa_file: str | None = None  # ColabFold's environmental A3M, joined after msa_file
    m8: str | None = None  # server mode: hhsearch of the templates this m8 file names

    def search_arguments(self, msa_folder: str | Path) -> str:
        """``folding templates search`` arguments (without ``--output``) for the MSA files
        in ``msa_folder``; an environmental A3M that a folder lacks is left out."""
        folder = Path(msa_folder)
        msas = [self.msa_file]
        if self.env_msa_file is not None and (folder / self.env_msa_file).is_file():
            msas.append(self.env_msa_file)
        arguments = " ".join(f"--msa {folder / name}" for name in msas)
        if self.m8 is not None:
            return f"{arguments} --m8 {folder / self.m8} --mmcif-dir {folder / TEMPLATE_DIR}"
        return f"{arguments} --tool {self.tool} --database {self.database}"


def hh_files(prefix: Path) -> tuple[Path, ...]:
    """The six files of an HH-suite database (``<prefix>_{a3m,hhm,cs219}.ff{data,index}``)."""
    return tuple(prefix.parent / f"{prefix.name}{suffix}" for suffix in _HH_SUFFIXES)


def search_steps(settings: WorkflowSettings) -> tuple[SearchStep, ...]:
    """The MSA searches of a preset and MSA mode."""
    root = settings.database_dir
    if settings.msa_mode == "precomputed":
        return (SearchStep("precomputed", "precomputed", None, (), (), (), (), 1, 500),)
    if settings.msa_mode == "server":
        outputs = ("uniref.a3m", ENV_A3M) + ((M8_FILE,) if settings.use_templates else ())
        return (SearchStep(
            "colabfold", "server", None, (), outputs, (), (), 1, 1000,
            {"server_url": settings.msa_server_url, "use_env": True, "use_filter": True,
             "use_templates": settings.use_templates},
        ),)
    if settings.msa_mode == "mmseqs2":
        uniref = settings.mmseqs_uniref_db
        env = settings.mmseqs_env_db
        databases = (uniref,) if env is None else (uniref, env)
        identity = tuple(p for db in databases for p in (db, Path(f"{db}.index")))
        outputs = ("uniref.a3m",) if env is None else ("uniref.a3m", ENV_A3M)
        return (SearchStep("colabfold", "mmseqs2", None, databases, outputs, identity, (), 8,
                           24000, {"env": env is not None}),)

    def jackhmmer(name: str, path: Path, max_hits: int | None) -> SearchStep:
        return SearchStep(name, "jackhmmer", name, (root / path,), (f"{name}_hits.sto",),
                          (root / path,), (name,), 8, 8000,
                          {"iterations": 1, "max_hits": max_hits})

    uniref90 = jackhmmer("uniref90", Path("uniref90/uniref90.fasta"), 10_000)
    mgnify = jackhmmer("mgnify", Path("mgnify/mgy_clusters_2022_05.fa"), 501)
    small_bfd = jackhmmer("small_bfd", Path("small_bfd/bfd-first_non_consensus_sequences.fasta"),
                          None)
    if settings.preset == "full_dbs":
        bfd = root / "bfd" / "bfd_metaclust_clu_complete_id30_c90_final_seq.sorted_opt"
        uniref30 = root / "uniref30" / "UniRef30_2021_03"
        hhblits = SearchStep(
            "bfd_uniref", "hhblits", "bfd_uniref", (bfd, uniref30), ("bfd_uniref_hits.a3m",),
            hh_files(bfd) + hh_files(uniref30), ("bfd", "uniref30"), 4, 32000,
            {"iterations": 3},
        )
        return (uniref90, mgnify, hhblits)
    if settings.preset == "reduced_dbs":
        return (uniref90, small_bfd)
    return (uniref90, mgnify, small_bfd)


def template_step(settings: WorkflowSettings, searches: tuple[SearchStep, ...],
                  precomputed_msa: str | None = None) -> TemplateStep | None:
    """The template search of a preset and MSA mode, or ``None`` without templates.

    With ColabFold's A3Ms (msa_mode mmseqs2, server, or precomputed ``uniref.a3m``) the
    environmental A3M is joined to the query MSA; msa_mode server searches the server's
    own templates (see the module docstring).
    """
    if not settings.use_templates:
        return None
    root = settings.database_dir
    first = searches[0]
    # Precomputed MSAs that are missing (reported by the preflight) leave no first file:
    # plan with AlphaFold's name so that the preflight, not the plan, speaks.
    msa_file = precomputed_msa or (first.outputs[0] if first.outputs else "uniref90_hits.sto")
    env = ENV_A3M if msa_file == "uniref.a3m" else None
    if settings.msa_mode == "server":
        return TemplateStep("hhsearch", Path(TEMPLATE_DIR) / "pdb70", "pdb_hits.hhr",
                            first.name, msa_file, Path(TEMPLATE_DIR), Path("obsolete.dat"), (),
                            (), False, env_msa_file=env, m8=M8_FILE)
    mmcif_dir = root / "pdb_mmcif" / "mmcif_files"
    obsolete = root / "pdb_mmcif" / "obsolete.dat"
    if settings.preset == "full_dbs":
        pdb70 = root / "pdb70" / "pdb70"
        return TemplateStep("hhsearch", pdb70, "pdb_hits.hhr", first.name, msa_file, mmcif_dir,
                            obsolete, hh_files(pdb70), ("pdb70", "pdb_mmcif"), False,
                            env_msa_file=env)
    seqres = root / "pdb_seqres" / "pdb_seqres.txt"
    return TemplateStep("hmmsearch", seqres, "pdb_hits.sto", first.name, msa_file, mmcif_dir,
                        obsolete, (seqres,), ("pdb_seqres", "pdb_mmcif"),
                        settings.preset == "reduced_dbs", env_msa_file=env)


def pairing_step(settings: WorkflowSettings) -> SearchStep:
    """AlphaFold-Multimer's UniProt search (jackhmmer, at most 50,000 hits) for pairing."""
    path = settings.database_dir / UNIPROT_FASTA
    return SearchStep("uniprot", "jackhmmer", "uniprot", (path,), ("uniprot_hits.sto",),
                      (path,), ("uniprot",), 8, 8000,
                      {"iterations": 1, "max_hits": MAX_UNIPROT_HITS})


def multimer_template_step(settings: WorkflowSettings,
                           searches: tuple[SearchStep, ...]) -> TemplateStep | None:
    """The template search of a complex's chains: hmmsearch of the UniRef90 MSA against PDB
    seqres for every preset (AlphaFold-Multimer's), or ``None`` without templates."""
    if not settings.use_templates:
        return None
    root = settings.database_dir
    first = searches[0]
    seqres = root / "pdb_seqres" / "pdb_seqres.txt"
    return TemplateStep("hmmsearch", seqres, "pdb_hits.sto", first.name, first.outputs[0],
                        root / "pdb_mmcif" / "mmcif_files", root / "pdb_mmcif" / "obsolete.dat",
                        (seqres,), ("pdb_seqres", "pdb_mmcif"),
                        settings.preset == "reduced_dbs")
