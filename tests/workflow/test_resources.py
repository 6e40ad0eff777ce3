"""Job sizes and placement: what each workflow job asks a cluster for, from the config,
the sequence length, the databases and the attempt; checked in the rules' own dry run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from folding.workflow import resources
from folding.workflow.resources import JobSize, Placement
from folding.workflow.steps import SearchStep

PROFILE = Path(__file__).resolve().parents[2] / "workflows" / "profiles" / "slurm"


def test_placement_leaves_out_what_the_config_does_not_name():
    assert Placement.from_config({}).cpu_job() == {}
    assert Placement.from_config({"slurm_cpu_partition": " ", "gpu_type": None}).gpu_job() == {}
    placement = Placement.from_config({"slurm_cpu_partition": "compute",
                                       "slurm_gpu_partition": "gpu-a100",
                                       "slurm_account": "lab42", "gpu_type": "a100"})
    assert placement.cpu_job() == {"slurm_partition": "compute", "slurm_account": "lab42"}
    assert placement.gpu_job() == {"slurm_partition": "gpu-a100", "slurm_account": "lab42",
                                   "gpu_model": "a100"}


def test_every_attempt_asks_for_more():
    size = JobSize(3000, 40)
    assert size.times(1) == size
    assert size.times(2) == JobSize(6000, 80)
    assert size.times(3) == JobSize(9000, 120)
    assert size.times(0) == size


def _jackhmmer(path: Path, max_hits: int | None = 10_000) -> SearchStep:
    return SearchStep("uniref90", "jackhmmer", "uniref90", (path,), ("uniref90_hits.sto",),
                      (path,), ("uniref90",), 8, 8000, {"iterations": 1, "max_hits": max_hits})


def test_search_time_grows_with_database_and_length(tmp_path):
    small = tmp_path / "small.fasta"
    small.write_text(">a\nMKV\n")
    big = tmp_path / "big.fasta"
    with open(big, "wb") as handle:  # a sparse 14 GB file: about 10 G residues
        handle.truncate(14 * 10**9)
    assert resources.database_residues([big, tmp_path / "missing"]) == 10**10
    tiny = resources.search_size(_jackhmmer(small), "M" * 300)
    assert tiny.runtime == resources.BASE_MINUTES + 1
    short = resources.search_size(_jackhmmer(big), "M" * 300)
    long = resources.search_size(_jackhmmer(big), "M" * 1200)
    # 300 x 1e10 cells on 8 threads at 1e9 cells/s: 375 s, doubled: 12.5 min
    assert short.runtime == resources.BASE_MINUTES + 13
    assert long.runtime > 3.9 * (short.runtime - resources.BASE_MINUTES)
    assert long.mem_mb > short.mem_mb > 8000
    unlimited = resources.search_size(_jackhmmer(big, max_hits=None), "M" * 300)
    assert unlimited.mem_mb > short.mem_mb
    # chains of a complex count together
    assert resources.search_size(_jackhmmer(big), "M" * 600 + ":" + "M" * 600) == long


def test_other_search_tools_have_sizes():
    for tool in ("hhblits", "mmseqs2", "server", "precomputed"):
        step = SearchStep("x", tool, None, (), (), (), (), 4, 1000, {})
        size = resources.search_size(step, "M" * 500)
        assert size.mem_mb >= 1000 and size.runtime >= resources.BASE_MINUTES


@pytest.mark.parametrize("size_of", [resources.features_size, resources.relax_size,
                                     resources.light_size, resources.template_search_size])
def test_sizes_grow_with_length(size_of):
    a, b = size_of(100), size_of(2000)
    assert b.mem_mb > a.mem_mb and b.runtime > a.runtime


def test_prediction_memory_covers_the_pair_outputs_and_time_the_recycles():
    long = resources.predict_size(2500, num_recycle=3)
    # distogram + PAE logits, L x L x 64 float32, twice over: 3.2 GB at L = 2500
    assert long.mem_mb > 6000 + 3200
    assert resources.predict_size(2500, 7).runtime > long.runtime
    assert resources.predict_size(500, 3, gpu=False).runtime > \
        resources.predict_size(500, 3).runtime


def _dry_run_resources(output: str) -> dict[str, list[dict[str, str]]]:
    """rule -> the resources line of each of its jobs in a dry run's output."""
    found: dict[str, list[dict[str, str]]] = {}
    rule = None
    for line in output.splitlines():
        match = re.match(r"^(?:rule|checkpoint|localrule) (\w+):", line)
        if match:
            rule = match.group(1)
        elif rule and line.strip().startswith("resources:"):
            items = line.split("resources:", 1)[1].split(", ")
            found.setdefault(rule, []).append(dict(i.strip().split("=", 1) for i in items))
    return found


def test_rules_place_and_size_their_jobs(run_workflow, fasta_writer, tiny_sequences, demo_db,
                                         tmp_path):
    inputs = fasta_writer(tmp_path / "in.fasta", {"pqqa": tiny_sequences["pqqa"],
                                                  "lyso40": tiny_sequences["lyso40"]})
    config = {"input": inputs, "output_dir": tmp_path / "out", "preset": "demo",
              "database_dir": demo_db, "slurm_cpu_partition": "compute",
              "slurm_gpu_partition": "gpu-a100", "slurm_account": "lab42", "gpu_type": "a100"}
    run = run_workflow("-n", "--profile", str(PROFILE), config=config)
    assert run.returncode == 0, run.output[-4000:]
    jobs = _dry_run_resources(run.stdout + run.stderr)
    assert {"target_fasta", "msa_jackhmmer", "template_search", "features", "predict",
            "rank"} <= set(jobs)
    for rule, rule_jobs in jobs.items():
        if rule == "all":
            continue
        for job in rule_jobs:
            assert job.get("slurm_account") == "lab42", (rule, job)
            assert int(job["mem_mb"]) >= 2000 and int(job["runtime"]) > 10, (rule, job)
            if rule == "predict":
                assert job["slurm_partition"] == "gpu-a100" and job["gpu_model"] == "a100"
                assert job["gpu"] == "1"
            else:
                assert job["slurm_partition"] == "compute" and "gpu" not in job, (rule, job)
    # longer target, more memory and time (lyso40: 40 residues, pqqa: 23)
    predict = sorted(jobs["predict"], key=lambda job: int(job["mem_mb"]))
    assert int(predict[0]["runtime"]) <= int(predict[1]["runtime"])
    assert int(predict[0]["mem_mb"]) < int(predict[1]["mem_mb"])
