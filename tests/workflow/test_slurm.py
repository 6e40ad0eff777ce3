"""The slurm profile on a real, one-node SLURM cluster (scripts/slurm_one_node.py).

The test cluster runs Debian's slurm-wlm and munge privately in a temporary folder: a
``cpu`` partition (default) and a ``gpu`` partition whose node advertises one fake GPU
(``gres/gpu``, type ``fake``), memory limits enforced, no accounting database (so the
plugin polls ``squeue --states=all``). Every job's partition, GPU request and final state
are read from the controller (``squeue`` and its job-completion record). The daemons are
stopped by their PID files when the module ends.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "workflows" / "profiles" / "slurm"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
#: The test cluster has no accounting (sacct), and its jobs are short: poll often.
TEST_CLUSTER_ARGS = ("--slurm-status-command", "squeue",
                     "--slurm-init-seconds-before-status-checks", "2",
                     "--seconds-between-status-checks", "3")
PARTITIONS = {"slurm_cpu_partition": "cpu", "slurm_gpu_partition": "gpu", "gpu_type": "fake"}


def _harness():
    path = ROOT / "scripts" / "slurm_one_node.py"
    spec = importlib.util.spec_from_file_location("slurm_one_node", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    harness = _harness()
    missing = harness.missing_programs()
    if missing:
        pytest.skip(f"SLURM not installed ({', '.join(missing)}): scripts/setup.sh --test")
    if os.geteuid() != 0:
        pytest.skip("the one-node SLURM test cluster runs its daemons as root")
    root = tmp_path_factory.mktemp("slurm")
    started = harness.start(root, cpus=16)
    yield started
    harness.stop(root)
    for name in ("munged", "slurmctld", "slurmd"):
        pid_file = root / "run" / f"{name}.pid"
        assert not pid_file.exists(), f"{name} still running"


def _run_on_cluster(cluster, workdir: Path, *args: str, config: dict | None = None,
                    timeout: float = 1500) -> tuple[subprocess.CompletedProcess, float]:
    argv = [str(SNAKEMAKE), "--profile", str(PROFILE), *TEST_CLUSTER_ARGS, *args]
    if config:
        argv += ["--config", *(f"{k}={v}" for k, v in config.items())]
    env = cluster.env()
    env["PATH"] = os.pathsep.join([str(SNAKEMAKE.parent), env["PATH"]])
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    return done, time.perf_counter() - start


def _slurm_jobs(cluster, output: str) -> list[dict[str, str]]:
    """The SLURM jobs of one Snakemake run, as the controller recorded them, in order."""
    match = re.search(r"SLURM run ID: (\S+)", output)
    assert match, output[-3000:]
    listing = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--name", match.group(1),
         "-O", "JobID:|,State:|,Partition:|,Comment:|,tres-per-job:|,tres-alloc:|"],
        env=cluster.env(), capture_output=True, text=True, check=True).stdout
    finished = {job["JobId"]: job for job in cluster.finished_jobs()}
    jobs = []
    for line in listing.splitlines():
        job_id, state, partition, comment, gres, tres = (f.strip() for f in line.split("|")[:6])
        rule = comment.removeprefix("rule_").split("_wildcards_")[0]
        record = finished.get(job_id, {})
        jobs.append({"id": job_id, "rule": rule, "state": record.get("JobState", state),
                     "partition": partition, "gres": gres, "tres": tres})
    return sorted(jobs, key=lambda job: int(job["id"]))


HUNGRY = """
rule all:
    input:
        "hungry.txt",
        "gpu.txt",


rule hungry:
    output:
        "hungry.txt",
    resources:
        mem_mb=lambda wc, attempt: 1000 * attempt,
        runtime=5,
    shell:
        "python3 -c 'import time; b = b\\"x\\" * (1300 * 2**20); time.sleep(4)' "
        "&& echo $SLURM_JOB_ID $SLURM_JOB_PARTITION > {output}"


rule gpu:
    output:
        "gpu.txt",
    resources:
        slurm_partition=config["slurm_gpu_partition"],
        gpu=1,
        gpu_model=config["gpu_type"],
        mem_mb=500,
        runtime=5,
    shell:
        "echo $SLURM_JOB_PARTITION $CUDA_VISIBLE_DEVICES > {output}"
"""


def test_a_job_killed_for_memory_is_retried_with_more(cluster, tmp_path):
    """The profile's retries with a rule's attempt-scaled memory, on a cluster that kills
    a job over its --mem: 1000 MB is too little for 1.3 GB, the second try gets 2000 MB."""
    (tmp_path / "Snakefile").write_text(HUNGRY)
    done, _ = _run_on_cluster(cluster, tmp_path, config=PARTITIONS)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    jobs = _slurm_jobs(cluster, done.stdout + done.stderr)
    hungry = [job for job in jobs if job["rule"] == "hungry"]
    assert [(job["state"], "mem=1000M" in job["tres"]) for job in hungry[:1]] == \
        [("FAILED", True)], jobs
    assert hungry[-1]["state"] == "COMPLETED" and "mem=2000M" in hungry[-1]["tres"], jobs
    assert len(hungry) == 2
    gpu = [job for job in jobs if job["rule"] == "gpu"]
    assert len(gpu) == 1 and gpu[0]["partition"] == "gpu", jobs
    assert gpu[0]["gres"] == "gres:gpu:fake:1" and gpu[0]["state"] == "COMPLETED"
    assert (tmp_path / "gpu.txt").read_text().split() == ["gpu", "0"]
    assert (tmp_path / "hungry.txt").read_text().split()[1] == "cpu"


# --- the demo workflow: on the cluster and locally, same results ---------------------------


@pytest.fixture(scope="module")
def demo_runs(cluster, tmp_path_factory, run_workflow, fasta_writer, tiny_sequences, demo_db):
    """The demo on the smallest target, once locally (--cores 2) and once through the
    slurm profile, from the same input and databases."""
    work = tmp_path_factory.mktemp("slurm_demo")
    inputs = fasta_writer(work / "targets.fasta", {"pqqa": tiny_sequences["pqqa"]})
    base = {"input": inputs, "preset": "demo", "database_dir": demo_db, "num_recycle": 0}
    local_dir, slurm_dir = work / "local", work / "slurm"
    local_dir.mkdir()
    slurm_dir.mkdir()
    start = time.perf_counter()
    local = run_workflow(config={**base, "output_dir": local_dir / "out"}, cwd=local_dir)
    local_seconds = time.perf_counter() - start
    assert local.returncode == 0, local.output[-5000:]
    done, slurm_seconds = _run_on_cluster(
        cluster, slurm_dir, "--snakefile", str(ROOT / "Snakefile"),
        config={**base, "output_dir": slurm_dir / "out", **PARTITIONS})
    print(f"demo (pqqa, 23 aa): local {local_seconds:.0f} s, slurm {slurm_seconds:.0f} s")
    return {"local": local_dir / "out", "slurm": slurm_dir / "out", "local_run": local,
            "slurm_run": done, "jobs": _slurm_jobs(cluster, done.stdout + done.stderr)}


def _finished_jobs(output: str) -> Counter:
    """rule -> jobs Snakemake finished, from its log (the target rule ``all`` left out)."""
    rules = re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", output)
    return Counter(rule for rule in rules if rule != "all")


def test_demo_on_slurm_runs_every_job_there_and_equals_the_local_run(demo_runs):
    """Every job of the demo is a completed SLURM job on the right partition, and the
    results equal a local run's (one test: its runs are not repeated on another worker)."""
    done = demo_runs["slurm_run"]
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    jobs = demo_runs["jobs"]
    assert jobs and all(job["state"] == "COMPLETED" for job in jobs), jobs
    # the same jobs as the local run (relax appears once the rank checkpoint has run)
    expected = _finished_jobs(demo_runs["local_run"].output)
    assert Counter(job["rule"] for job in jobs) == expected
    assert _finished_jobs(done.stdout + done.stderr) == expected
    assert {"msa_jackhmmer", "template_search", "features", "predict", "rank", "relax",
            "report", "index"} <= set(expected)
    assert "localrule" not in (done.stdout + done.stderr).replace("localrule all:", "")
    for job in jobs:
        if job["rule"] == "predict":
            assert job["partition"] == "gpu" and job["gres"] == "gres:gpu:fake:1", job
        else:
            assert job["partition"] == "cpu" and job["gres"] in ("", "N/A"), job
    _check_equal_results(demo_runs["local"] / "pqqa", demo_runs["slurm"] / "pqqa")


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def _atoms(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines()
            if line.startswith(("ATOM", "HETATM"))]


def _check_equal_results(local: Path, slurm: Path) -> None:
    """Same inputs, seed and CPU: the searches, features and model outputs are equal bit
    for bit; only records of where and when (logs, provenance, timings, report) differ."""
    for name in ("uniref90_hits.sto", "mgnify_hits.sto", "small_bfd_hits.sto", "pdb_hits.sto"):
        assert (local / "msas" / name).read_bytes() == (slurm / "msas" / name).read_bytes()
    compared = 0
    for name in ("features.npz", "result_model_1_ptm.npz"):
        a, b = _arrays(local / name), _arrays(slurm / name)
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}:{key}")
            compared += 1
    assert compared > 10
    for name in ("unrelaxed_model_1_ptm.pdb", "relaxed_model_1_ptm.pdb", "ranked_0.pdb"):
        assert _atoms(local / name) == _atoms(slurm / name), name
    assert json.loads((local / "ranking_debug.json").read_text()) == \
        json.loads((slurm / "ranking_debug.json").read_text())
