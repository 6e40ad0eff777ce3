"""The search stages for real (pyhmmer jackhmmer, hmmsearch templates, features) on tiny
targets: one search per distinct sequence, resume after a kill mid-MSA, and exactly the
affected stages re-run after a change of config, database or sequence."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from folding.provenance import sequence_sha256

pytestmark = pytest.mark.slow


def _features(out: Path, names) -> list[str]:
    return [str(out / name / "provenance" / "features.json") for name in names]


def _config(inputs, out, database_dir, **extra):
    return {"input": inputs, "output_dir": out, "preset": "demo", "database_dir": database_dir,
            **extra}


def test_shared_sequences_search_once_and_a_kill_mid_msa_resumes(
    run_workflow, workflow_command, fasta_writer, tiny_sequences, demo_db, tmp_path
):
    records = {
        "lyso40": tiny_sequences["lyso40"],
        "pqqa": tiny_sequences["pqqa"],
        "pqqa_twin": tiny_sequences["pqqa"],  # same sequence, another name
        "dermaseptin": tiny_sequences["dermaseptin"],
    }
    inputs = fasta_writer(tmp_path / "targets.fasta", records)
    out = tmp_path / "out"
    config = _config(inputs, out, demo_db)
    targets = _features(out, records)
    dry = run_workflow("-n", *targets, config=config)
    assert dry.returncode == 0, dry.output
    # 3 distinct sequences x 3 databases; one template search per distinct MSA.
    assert dry.jobs["msa_jackhmmer"] == 9 and dry.jobs["template_search"] == 3
    assert dry.jobs["msas"] == 4 and dry.jobs["features"] == 4

    # Run one job at a time and kill everything (SIGKILL, like a crash) once two searches
    # have finished and a third is running.
    argv, env = workflow_command(*targets, config=config, cores=1)
    process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    cache = out / "cache" / "msa"
    deadline = time.monotonic() + 300
    while len(list(cache.glob("*/msa_*.json"))) < 2:
        assert process.poll() is None, "snakemake ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = {p: p.stat().st_mtime_ns for p in cache.glob("*/msa_*.json")}
    assert 2 <= len(finished) < 9
    assert not (out / "lyso40" / "provenance" / "features.json").exists()

    # A crash leaves Snakemake's lock behind: unlock, then the same command resumes
    # (with --rerun-incomplete, as both profiles and `folding demo` run: a job killed
    # after it wrote its output but before Snakemake recorded that is flagged incomplete
    # and runs once more; every other finished search is kept).
    assert run_workflow("--unlock", *targets, config=config).returncode == 0
    again = run_workflow("--rerun-incomplete", *targets, config=config)
    assert again.returncode == 0, again.output
    redone = [path for path, mtime in finished.items() if path.stat().st_mtime_ns != mtime]
    assert len(redone) <= 1, redone
    assert again.jobs["msa_jackhmmer"] == 9 - len(finished) + len(redone)
    for name in records:
        assert (out / name / "features.npz").is_file()
        provenance = out / name / "provenance"
        assert {p.name for p in provenance.glob("*.json")} == {
            "inputs.json", "msa_uniref90.json", "msa_mgnify.json", "msa_small_bfd.json",
            "templates.json", "features.json"}
    twin = json.loads((out / "pqqa_twin" / "msas" / "sources.json").read_text())
    first = json.loads((out / "pqqa" / "msas" / "sources.json").read_text())
    assert twin["files"] == first["files"] and twin["targets_sharing"] == ["pqqa"]
    manifest = json.loads((out / "lyso40" / "provenance" / "msa_uniref90.json").read_text())
    assert manifest["stage"] == "msa_uniref90" and manifest["seconds"] > 0
    assert manifest["sequence_sha256"] == sequence_sha256(tiny_sequences["lyso40"])
    assert manifest["databases"][0]["path"].endswith("uniref90/uniref90.fasta")
    assert manifest["databases"][0]["sha256"]  # recorded when build-demo installed it
    assert manifest["tools"]["pyhmmer"]
    assert manifest["config"] == {"tool": "jackhmmer", "iterations": 1, "max_hits": 10000}
    # The lysozyme stretch found lysozyme templates in the demo PDB.
    hits = (out / "lyso40" / "msas" / "pdb_hits.sto").read_text()
    assert "mol:protein" in hits
    assert "Nothing to be done" in run_workflow("-n", *targets, config=config).output


def test_changes_rerun_exactly_the_affected_stages(
    run_workflow, fasta_writer, tiny_sequences, demo_db, tmp_path
):
    database_dir = tmp_path / "db"
    shutil.copytree(demo_db, database_dir)
    records = {"lyso40": tiny_sequences["lyso40"], "pqqa": tiny_sequences["pqqa"]}
    inputs = fasta_writer(tmp_path / "targets.fasta", records)
    out = tmp_path / "out"
    config = _config(inputs, out, database_dir)
    targets = _features(out, records)
    assert run_workflow(*targets, config=config).returncode == 0

    # The same records in another file: nothing to do.
    moved = fasta_writer(tmp_path / "elsewhere" / "renamed.fasta", records)
    assert "Nothing to be done" in run_workflow("-n", *targets,
                                                config={**config, "input": moved}).output

    # A config value used by one stage re-runs that stage only.
    dated = run_workflow("-n", *targets, config={**config, "max_template_date": "1990-01-01"})
    assert dated.jobs == {"features": 2}, dated.output
    # Turning templates off drops the template search and rebuilds the MSA folders.
    untemplated = run_workflow("-n", *targets, config={**config, "use_templates": "false"})
    assert untemplated.jobs == {"msas": 2, "features": 2}, untemplated.output

    # A changed database (a new release put in place by other tools, so without folding's
    # install record) re-runs its searches, for every sequence, and what follows.
    (database_dir / ".folding" / "mgnify.json").unlink()
    mgnify = database_dir / "mgnify" / "mgy_clusters_2022_05.fa"
    mgnify.write_text(mgnify.read_text() + ">extra\nMKVLAAGIVALLLAAGCSSSKEETPAAP\n")
    changed_db = run_workflow("-n", *targets, config=config)
    assert changed_db.jobs == {"msa_jackhmmer": 2, "msas": 2, "features": 2}, changed_db.output

    # A changed sequence re-runs that target only.
    fasta_writer(inputs, {"lyso40": tiny_sequences["lyso40"],
                          "pqqa": tiny_sequences["dermaseptin"]})
    changed_seq = run_workflow("-n", str(out / "pqqa" / "provenance" / "features.json"),
                               config=config)
    assert changed_seq.jobs == {
        "target_fasta": 1, "query_fasta": 1, "msa_jackhmmer": 3, "template_search": 1,
        "msas": 1, "features": 1}, changed_seq.output
    untouched = run_workflow("-n", str(out / "lyso40" / "provenance" / "features.json"),
                             config=config)
    assert untouched.jobs == {"msa_jackhmmer": 1, "msas": 1, "features": 1}  # mgnify only
