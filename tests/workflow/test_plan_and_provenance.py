"""Cache keys, database identities and stage manifests (fast, no Snakemake)."""

from __future__ import annotations

import json
import sys

import pytest

from folding.cli import main
from folding.inputs import read_targets
from folding.provenance import database_identity, sequence_sha256
from folding.workflow.plan import make_plan
from folding.workflow.preflight import preflight


@pytest.fixture
def targets(tmp_path, tiny_sequences, fasta_writer):
    path = fasta_writer(tmp_path / "t.fasta", {
        "a": tiny_sequences["pqqa"], "b": tiny_sequences["pqqa"],
        "c": tiny_sequences["dermaseptin"]})
    return read_targets(path).targets


def test_identical_sequences_share_keys_and_databases_change_them(targets, demo_db, tmp_path,
                                                                  settings_for):
    settings = settings_for(input="x", preset="demo", database_dir=str(demo_db))
    plan = make_plan(settings, targets)
    a, b, c = plan.targets
    assert a.search_keys == b.search_keys and a.template_key == b.template_key
    assert set(a.search_keys.values()).isdisjoint(c.search_keys.values())
    assert plan.sharing(a) == ("b",)
    assert [s.name for s in plan.searches] == ["uniref90", "mgnify", "small_bfd"]
    # Another database folder with the same content (same recorded SHA-256): same keys.
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(demo_db, copy)
    same = make_plan(settings_for(input="x", preset="demo", database_dir=str(copy)), targets)
    assert same.targets[0].search_keys == a.search_keys
    # A search setting that changes the result changes the key: reduced_dbs has no mgnify.
    reduced = make_plan(settings_for(input="x", preset="reduced_dbs", database_dir=str(demo_db)),
                        targets)
    assert reduced.targets[0].search_keys["uniref90"] == a.search_keys["uniref90"]
    assert "mgnify" not in reduced.targets[0].search_keys
    assert reduced.template.fetch_on_demand and not plan.template.fetch_on_demand


def test_database_identity_uses_the_install_record(demo_db, tmp_path):
    identity = database_identity(demo_db / "uniref90" / "uniref90.fasta")
    record = json.loads((demo_db / ".folding" / "uniref90.json").read_text())
    assert identity.sha256 == record["files"]["uniref90/uniref90.fasta"]["sha256"]
    assert identity.key() == {"size": identity.size, "sha256": identity.sha256}
    loose = tmp_path / "loose.fasta"
    loose.write_text(">x\nMKV\n")
    unrecorded = database_identity(loose)
    assert unrecorded.sha256 is None and unrecorded.key()["size"] == 7
    assert database_identity(tmp_path / "absent").size == -1


def test_full_dbs_plan_and_preflight_of_an_empty_tree(targets, tmp_path, settings_for):
    settings = settings_for(input="x", preset="full_dbs", database_dir=str(tmp_path))
    plan = make_plan(settings, targets)
    assert [(s.name, s.tool) for s in plan.searches] == [
        ("uniref90", "jackhmmer"), ("mgnify", "jackhmmer"), ("bfd_uniref", "hhblits")]
    assert plan.template.tool == "hhsearch" and plan.template.output == "pdb_hits.hhr"
    check = preflight(plan)
    assert not check.ok and len(check.errors) == 2  # databases, then parameters
    assert check.errors[0].startswith(f"database_dir {tmp_path} is incomplete for preset "
                                      "full_dbs (22 missing: uniref90/uniref90.fasta, ")
    untrained = preflight(make_plan(settings_for(input="x", preset="full_dbs",
                                              database_dir=str(tmp_path),
                                              allow_untrained_params="true"), targets))
    assert len(untrained.errors) == 1 and untrained.untrained("model_1_ptm")


def test_stage_records_a_manifest_only_when_the_command_succeeds(tmp_path, demo_db, capsys):
    record = tmp_path / "provenance" / "demo.json"
    ok = main(["workflow", "stage", "--stage", "demo", "--record", str(record),
               "--sequence-hash", sequence_sha256("mkv"), "--database",
               str(demo_db / "mgnify" / "mgy_clusters_2022_05.fa"), "--tool", "pyhmmer",
               "--setting", "num_recycle=3", "--setting", "name=x y", "--",
               sys.executable, "-c", "print('hello')"])
    assert ok == 0
    data = json.loads(record.read_text())
    assert data["stage"] == "demo" and 0 < data["seconds"] < 60
    assert data["sequence_sha256"] == sequence_sha256("MKV")
    assert data["databases"][0]["sha256"]
    assert data["tools"]["pyhmmer"] and data["tools"]["folding"]
    assert data["config"] == {"num_recycle": 3, "name": "x y"}
    failed = tmp_path / "provenance" / "failed.json"
    status = main(["workflow", "stage", "--stage", "bad", "--record", str(failed), "--",
                   sys.executable, "-c", "raise SystemExit(7)"])
    assert status == 7 and not failed.exists()
    assert "stage bad failed (exit status 7)" in capsys.readouterr().err
