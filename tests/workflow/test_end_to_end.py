"""The demo workflow end to end on tiny real targets: real jackhmmer (pyhmmer), real template
search, the real model with untrained parameters, real Amber relax, the report; a kill in
the middle of prediction resumes without redoing searches or features; a changed
num_recycle re-runs prediction onwards only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest

pytestmark = pytest.mark.slow

UPSTREAM = {"target_fasta", "query_fasta", "msa_jackhmmer", "template_search", "msas",
            "features"}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, run_workflow, workflow_command, fasta_writer,
                 tiny_sequences, demo_db):
    """Run two tiny targets; SIGTERM the run while the first prediction runs; resume."""
    work = tmp_path_factory.mktemp("e2e")
    inputs = fasta_writer(work / "targets.fasta", {"lyso40": tiny_sequences["lyso40"],
                                                    "pqqa": tiny_sequences["pqqa"]})
    out = work / "out"
    config = {"input": inputs, "output_dir": out, "preset": "demo", "database_dir": demo_db,
              "num_recycle": 0}
    argv, env = workflow_command(config=config)
    process = subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 900
    logs = list(out.glob("*/logs/predict_model_1_ptm.log"))
    while not logs:
        assert process.poll() is None, "the run ended before a prediction started"
        assert time.monotonic() < deadline
        time.sleep(0.2)
        logs = list(out.glob("*/logs/predict_model_1_ptm.log"))
    time.sleep(3)  # inside the model run
    os.killpg(process.pid, signal.SIGTERM)  # what a scheduler's time limit sends
    process.wait(timeout=120)
    interrupted = logs[0].parent.parent
    assert not (interrupted / "provenance" / "predict_model_1_ptm.json").exists()
    assert not (interrupted / "result_model_1_ptm.npz").exists()
    features = {p: p.stat().st_mtime_ns for p in out.glob("*/provenance/features.json")}
    assert len(features) >= 1
    resumed = run_workflow(config=config)
    assert resumed.returncode == 0, resumed.output[-5000:]
    return {"out": out, "config": config, "features": features, "resumed": resumed,
            "interrupted": interrupted.name}


def test_resume_after_a_kill_in_prediction_redoes_nothing_finished(finished_run):
    jobs = finished_run["resumed"].jobs
    assert jobs.get("predict", 0) >= 1
    assert "msa_jackhmmer" not in jobs
    for path, mtime in finished_run["features"].items():
        assert path.stat().st_mtime_ns == mtime


def test_every_output_is_there_and_says_untrained(finished_run):
    out = finished_run["out"]
    assert (out / "index.html").is_file()
    for name in ("lyso40", "pqqa"):
        target = out / name
        for file_name in ("ranked_0.pdb", "ranked_0.cif", "ranking_debug.json", "timings.json",
                          "features.npz", "result_model_1_ptm.npz", "plddt.png", "pae.png",
                          "report.html", "unrelaxed_model_1_ptm.pdb",
                          "relaxed_model_1_ptm.pdb", "relax_model_1_ptm.json",
                          "msas/uniref90_hits.sto", "msas/mgnify_hits.sto",
                          "msas/small_bfd_hits.sto", "msas/pdb_hits.sto", f"{name}.fasta"):
            assert (target / file_name).is_file(), f"{name}/{file_name}"
        timings = json.loads((target / "timings.json").read_text())
        assert {"inputs", "msa_uniref90", "msa_mgnify", "msa_small_bfd", "templates",
                "features", "predict_model_1_ptm", "rank", "relax_model_1_ptm"} <= set(timings)
        predict = json.loads((target / "provenance" / "predict_model_1_ptm.json").read_text())
        assert "--untrained-params" in predict["config"]["params"]
        assert "untrained" in (target / "unrelaxed_model_1_ptm.pdb").read_text().lower()
        assert "untrained" in (target / "ranked_0.pdb").read_text().lower()
        assert "untrained" in (target / "report.html").read_text().lower()
        with np.load(target / "result_model_1_ptm.npz") as result:
            names = " ".join(result.files).lower()
            assert "untrained" in names or any(
                "untrained" in str(result[k]).lower() for k in result.files
                if result[k].dtype.kind in "US")
        relax = json.loads((target / "relax_model_1_ptm.json").read_text())
        assert {"converged", "reason", "violations_before", "violations_after"} <= set(relax)


def test_num_recycle_change_reruns_prediction_onwards_only(finished_run, run_workflow):
    config = {**finished_run["config"], "num_recycle": 1}
    dry = run_workflow("-n", config=config)
    assert dry.returncode == 0, dry.output
    assert dry.jobs.get("predict") == 2
    assert not UPSTREAM & set(dry.jobs), dry.jobs
    same = run_workflow("-n", config=finished_run["config"])
    assert "Nothing to be done" in same.output
