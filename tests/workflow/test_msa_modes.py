"""The workflow's ColabFold modes end to end, on real data.

* ``msa_mode=server`` against a loopback ColabFold-API server that answers with the real
  ColabFold results of A0A024R1R8 and P61626 (``tests/colabfold_server.py``): A0A024R1R8
  runs through features, prediction, relax and report (its ``pdb70.m8`` is empty: no
  template request, no template); P61626 runs through features with the server's
  templates (``pdb70.m8`` -> ``/template/<first 20 hits>`` -> hhsearch of the joined
  A3Ms -> 20 lysozyme templates read from the fetched mmCIFs).
* ``msa_mode=mmseqs2`` with small ColabFold-layout databases built with MMseqs2 from the
  real rows of those ColabFold A3Ms: a 40-residue lysozyme stretch runs through report
  with templates found by hmmsearch of its A3Ms against the demo PDB seqres.
* ``msa_mode=precomputed`` with a folder holding a ColabFold server result.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from folding.common.alphabet import HHBLITS_AA_TO_ID

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("hhsearch") is None or shutil.which("mmseqs") is None,
                       reason="hhsearch and mmseqs are needed"),
]


ENV = "bfd.mgnify30.metaeuk30.smag30.a3m"
LYSOZYMES = {"133l", "1cj6", "1ckd", "1di3", "1gb5", "1gb7", "1gb8", "1gfr", "1i1z", "1i20",
             "1i22", "1lhh", "1lhl", "1tdy", "1ubz", "1wqn", "1wqo", "1yan", "3lhm", "3ln2",
             "1aki", "2axd"}


def _sequence(shared_data, name):
    from folding.data.parsers.fasta import parse_fasta

    return parse_fasta((shared_data / "queries" / f"{name}.fasta").read_text())[0].sequence


def _features(path):
    from folding.data.features import load_raw_npz

    return load_raw_npz(path)


# ------------------------------------------------------------------------------ server


@pytest.fixture(scope="module")
def server_run(tmp_path_factory, shared_data, demo_db, run_workflow, fasta_writer):
    from colabfold_server import running_server  # tests/ is on sys.path (conftest.py)

    work = tmp_path_factory.mktemp("server_mode")
    small = _sequence(shared_data, "A0A024R1R8")
    inputs = fasta_writer(work / "targets.fasta",
                          {"A0A024R1R8": small, "P61626": _sequence(shared_data, "P61626")})
    out = work / "out"
    alignments = shared_data / "alignments"
    with running_server(alignments / "P61626_colabfold",
                        {small: alignments / "A0A024R1R8_colabfold"}) as server:
        server.submit_statuses = ["COMPLETE"]  # no polling delay
        config = {"input": inputs, "output_dir": out, "preset": "demo",
                  "database_dir": demo_db, "msa_mode": "server", "msa_server_url": server.url,
                  "num_recycle": 0}
        targets = [str(out / "A0A024R1R8" / "report.html"),
                   str(out / "P61626" / "provenance" / "features.json")]
        run = run_workflow(*targets, config=config)
        assert run.returncode == 0, run.output[-6000:]
        again = run_workflow("-n", *targets, config=config)
        requests = list(server.requests)
        template_requests = list(server.template_requests)
    return {"out": out, "run": run, "again": again, "requests": requests,
            "template_requests": template_requests}


def test_server_requests(server_run, shared_data):
    posts = [r for r in server_run["requests"] if r[0] == "POST"]
    assert len(posts) == 2 and {r[2]["mode"] for r in posts} == {"env"}
    m8 = (shared_data / "alignments/P61626_colabfold/pdb70.m8").read_text().splitlines()
    assert server_run["template_requests"] == [[line.split()[1] for line in m8[:20]]]
    assert "Nothing to be done" in server_run["again"].output  # cached, nothing re-run


def test_server_mode_small_target_end_to_end(server_run):
    target = server_run["out"] / "A0A024R1R8"
    for name in ("report.html", "ranked_0.pdb", "result_model_1_ptm.npz", "features.npz",
                 "msas/uniref.a3m", f"msas/{ENV}", "msas/pdb70.m8", "msas/pdb_hits.hhr"):
        assert (target / name).is_file(), name
    raw = _features(target / "features.npz")
    assert raw["msa"].shape == (1806, 64)  # 1389 + 685 rows, deduplicated
    assert raw["template_domain_names"].shape == (0,)  # empty pdb70.m8: no template
    record = json.loads((target / "provenance" / "msa_colabfold.json").read_text())
    assert record["details"]["uniref.a3m.json"]["tool"] == "server"
    assert record["details"]["uniref.a3m.json"]["templates"] == []
    timings = json.loads((target / "timings.json").read_text())
    assert {"msa_colabfold", "templates", "features", "predict_model_1_ptm"} <= set(timings)


def test_server_mode_templates(server_run, shared_data):
    target = server_run["out"] / "P61626"
    raw = _features(target / "features.npz")
    assert raw["msa"].shape == (5111, 148)
    names = {n.decode() for n in raw["template_domain_names"]}
    served = {p.stem for p in (shared_data / "alignments/P61626_colabfold/templates_101")
              .glob("*.cif")}
    assert len(names) == 20 and {n.split("_")[0] for n in names} == served
    assert raw["template_all_atom_masks"][:, 18:, 1].mean() > 0.95
    record = json.loads((target / "provenance" / "templates.json").read_text())
    assert record["details"]["pdb_hits.hhr.json"]["hits"] == 20
    assert "--m8" in record["command"]


# ----------------------------------------------------------------------------- mmseqs2


@pytest.fixture(scope="module")
def colabfold_databases(tmp_path_factory, shared_data):
    """UniRef-like and environmental ColabFold-layout databases built with MMseqs2 from
    the real hit rows of the two ColabFold results (residues only, gaps removed)."""
    from folding.data.parsers.fasta import parse_fasta
    from folding.data.tools.mmseqs import build_colabfold_database

    folder = tmp_path_factory.mktemp("colabfold_db")
    built = {}
    for kind, name, rows in (("uniref", "uniref.a3m", 600), ("env", ENV, 300)):
        records: dict[str, str] = {}
        for result in ("A0A024R1R8_colabfold", "P61626_colabfold"):
            text = (shared_data / "alignments" / result / name).read_text().replace("\x00", "")
            for record in parse_fasta(text)[1:rows + 1]:
                records.setdefault(record.name, record.sequence.replace("-", "").upper())
        fasta = folder / f"{kind}.fasta"
        fasta.write_text("".join(f">{n}\n{s}\n" for n, s in records.items()))
        built[kind] = build_colabfold_database(fasta, folder / f"{kind}_db", threads=2)
    return built


@pytest.fixture(scope="module")
def mmseqs_run(tmp_path_factory, shared_data, demo_db, run_workflow, fasta_writer,
               colabfold_databases, tiny_sequences):
    work = tmp_path_factory.mktemp("mmseqs2_mode")
    inputs = fasta_writer(work / "targets.fasta", {"lyso40": tiny_sequences["lyso40"]})
    out = work / "out"
    config = {"input": inputs, "output_dir": out, "preset": "demo", "database_dir": demo_db,
              "msa_mode": "mmseqs2", "mmseqs_uniref_db": colabfold_databases["uniref"],
              "mmseqs_env_db": colabfold_databases["env"], "num_recycle": 0}
    run = run_workflow(config=config)
    assert run.returncode == 0, run.output[-6000:]
    return {"out": out, "run": run}


def test_mmseqs2_mode_end_to_end(mmseqs_run, tiny_sequences):
    target = mmseqs_run["out"] / "lyso40"
    assert (mmseqs_run["out"] / "index.html").is_file()
    for name in ("report.html", "ranked_0.pdb", "relaxed_model_1_ptm.pdb", "msas/uniref.a3m",
                 f"msas/{ENV}", "msas/pdb_hits.sto"):
        assert (target / name).is_file(), name
    raw = _features(target / "features.npz")
    uniref = (target / "msas/uniref.a3m").read_text()
    env = (target / f"msas/{ENV}").read_text()
    assert uniref.count(">") > 100 and env.count(">") > 10  # homologs in both databases
    assert raw["msa"].shape[0] < uniref.count(">") + env.count(">")  # deduplicated
    assert raw["msa"].shape[1] == 40 and raw["sequence"][0].decode() == tiny_sequences["lyso40"]
    names = {n.decode()[:4] for n in raw["template_domain_names"]}
    assert names and names <= LYSOZYMES
    record = json.loads((target / "provenance" / "templates.json").read_text())
    assert record["command"].count("--msa") == 2 and "hmmsearch" in record["command"]
    search = json.loads((target / "provenance" / "msa_colabfold.json").read_text())
    assert search["details"]["uniref.a3m.json"]["tool"] == "mmseqs2"


# -------------------------------------------------------------------------- precomputed


def test_precomputed_colabfold_folder(tmp_path, shared_data, demo_db, run_workflow,
                                      fasta_writer):
    precomputed = tmp_path / "msas" / "A0A024R1R8"
    shutil.copytree(shared_data / "alignments/A0A024R1R8_colabfold", precomputed)
    inputs = fasta_writer(tmp_path / "t.fasta",
                          {"A0A024R1R8": _sequence(shared_data, "A0A024R1R8")})
    out = tmp_path / "out"
    config = {"input": inputs, "output_dir": out, "preset": "demo", "database_dir": demo_db,
              "msa_mode": "precomputed", "precomputed_msa_dir": tmp_path / "msas"}
    run = run_workflow(str(out / "A0A024R1R8" / "provenance" / "features.json"), config=config)
    assert run.returncode == 0, run.output[-6000:]
    raw = _features(out / "A0A024R1R8" / "features.npz")
    assert raw["msa"].shape == (1806, 64)
    query = [HHBLITS_AA_TO_ID[c] for c in _sequence(shared_data, "A0A024R1R8")]
    assert np.array_equal(raw["msa"][0], query)
    record = json.loads((out / "A0A024R1R8" / "provenance" / "templates.json").read_text())
    assert record["command"].count("--msa") == 2
