"""`folding demo`: builds the demo databases when they are missing, runs the workflow, and
clears the lock a crashed run left behind."""

from __future__ import annotations

import subprocess


def test_demo_builds_databases_and_plans_the_lysozyme_run(tmp_path, venv_bin, shared_data):
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("stale lock of a crashed run\n")
    run = subprocess.run(
        [str(venv_bin / "folding"), "demo", "--dry-run", "--databases", "db", "--output", "out"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "building the demo databases" in run.stderr
    assert (tmp_path / "db" / "uniref90" / "uniref90.fasta").is_file()
    assert "removing the lock a crashed run left behind" in run.stderr
    assert not any(locks.iterdir())
    assert "running with UNTRAINED (random) parameters" in run.stderr
    assert "P61626" in run.stdout and "msa_jackhmmer" in run.stdout
    # A second call finds the databases complete and does not rebuild them.
    again = subprocess.run(
        [str(venv_bin / "folding"), "demo", "--dry-run", "--databases", "db", "--output", "out"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )
    assert again.returncode == 0 and "building the demo databases" not in again.stderr
