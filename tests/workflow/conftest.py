"""Fixtures for the workflow tests: the demo databases, tiny real targets, a snakemake runner."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
SCHEMA = ROOT / "workflows" / "schemas" / "config.schema.yaml"


def job_counts(output: str) -> dict[str, int]:
    """The "Job stats" table of a snakemake (dry) run: rule -> number of jobs."""
    counts: dict[str, int] = {}
    lines = output.splitlines()
    if "Job stats:" not in lines:
        return counts
    for line in lines[lines.index("Job stats:") + 3:]:
        fields = line.split()
        if len(fields) != 2 or not fields[1].isdigit() or fields[0] == "total":
            break
        counts[fields[0]] = int(fields[1])
    return counts


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def jobs(self) -> dict[str, int]:
        return job_counts(self.stdout + "\n" + self.stderr)


def snakemake_command(*args: str, config: dict | None = None, cores: int = 2
                      ) -> tuple[list[str], dict[str, str]]:
    """The argument list and environment of a snakemake run of the workflow."""
    argv = [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--cores", str(cores), *args]
    if config:
        argv += ["--config", *(f"{k}={v}" for k, v in config.items())]
    env = {**os.environ, "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}"}
    return argv, env


def snakemake(*args: str, config: dict | None = None, cwd: Path | None = None,
              timeout: float = 1200, check: bool = False) -> Run:
    """Run the workflow's snakemake as a user would (``--cores 2``).

    It runs in ``cwd`` (default: the output folder's parent) so that parallel tests keep
    their own ``.snakemake/`` metadata and locks.
    """
    if cwd is None:
        cwd = Path(str(config["output_dir"])).parent if config and "output_dir" in config \
            else ROOT
        cwd.mkdir(parents=True, exist_ok=True)
    argv, env = snakemake_command(*args, config=config)
    completed = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                               env=env, check=False)
    run = Run(completed.returncode, completed.stdout, completed.stderr)
    if check and run.returncode != 0:
        raise AssertionError(f"snakemake failed ({run.returncode}):\n{run.output[-6000:]}")
    return run


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory, shared_data) -> Path:
    """The demo database tree, built once per session from the real data."""
    from folding.databases.demo import build_demo

    root = tmp_path_factory.mktemp("demo_databases")
    build_demo(root, shared_data)
    return root


def _uniprot_record(shared_data: Path, accession: str) -> tuple[str, str]:
    from folding.data.parsers.fasta import parse_fasta

    text = (shared_data / "sequences" / "uniprot_500.fasta").read_text()
    for record in parse_fasta(text):
        if f"|{accession}|" in record.description:
            return record.description, record.sequence
    raise LookupError(accession)


@pytest.fixture(scope="session")
def tiny_sequences(shared_data) -> dict[str, str]:
    """Real short proteins: a 31-aa peptide, a 23-aa peptide and a 40-aa lysozyme stretch
    (residues 19-58 of P61626, which finds lysozyme templates in the demo PDB)."""
    from folding.data.parsers.fasta import parse_fasta

    lysozyme = parse_fasta((shared_data / "queries" / "P61626.fasta").read_text())[0].sequence
    return {
        "dermaseptin": _uniprot_record(shared_data, "P84927")[1],
        "pqqa": _uniprot_record(shared_data, "P59726")[1],
        "lyso40": lysozyme[18:58],
    }


def write_fasta(path: Path, records: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f">{name}\n{seq}\n" for name, seq in records.items()))
    return path


@pytest.fixture(scope="session")
def run_workflow():
    """The snakemake runner (a fixture, so test modules need not import this file)."""
    return snakemake


@pytest.fixture(scope="session")
def workflow_command():
    return snakemake_command


@pytest.fixture(scope="session")
def fasta_writer():
    return write_fasta


def _resolved_settings(**config):
    """Workflow settings from ``config`` as the Snakefile makes them: normalised, checked
    against the schema (no errors allowed), schema defaults filled in, resolved."""
    import yaml

    from folding.workflow import settings as workflow_settings

    with open(SCHEMA) as handle:
        schema = yaml.safe_load(handle)
    workflow_settings.normalise(config, schema)
    assert workflow_settings.config_errors(config, schema) == []
    for key, spec in schema["properties"].items():
        if "default" in spec:
            config.setdefault(key, spec["default"])
    return workflow_settings.resolve(config)


@pytest.fixture(scope="session")
def settings_for():
    """Resolved workflow settings for keyword config values (tests that plan without
    running Snakemake)."""
    return _resolved_settings
