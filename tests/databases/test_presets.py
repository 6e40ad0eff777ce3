"""Preset manifests, the demo tree, checks of empty trees, and on-demand mmCIF fetching."""

from __future__ import annotations

import gzip

import pytest

from folding.cli import main
from folding.databases.check import check_tree
from folding.databases.demo import build_demo
from folding.databases.fetch import fetch_template_mmcifs, hit_pdb_ids
from folding.databases.manifest import PRESETS, load_manifest, load_preset


def test_presets_are_real_and_reduced_fits_a_colab_machine():
    full = load_preset("full_dbs")
    reduced = load_preset("reduced_dbs")
    assert set(full.names()) >= {"uniref90", "mgnify", "bfd", "uniref30", "pdb70", "pdb_mmcif",
                                 "params"}
    # AlphaFold README: 2.62 TB in total with small BFD and the multimer databases.
    assert 2400 < full.disk_gb < 2700
    assert reduced.disk_gb <= 100
    for manifest in (full, reduced):
        for db in manifest.databases:
            for item in db.downloads:
                assert all(u.startswith(("https://", "http://")) for u in item.urls)
    assert full.get("params").downloads[0].urls == (
        "https://storage.googleapis.com/alphafold/alphafold_params_2022-12-06.tar",)
    assert "params/params_model_1_ptm.npz" in [e.path for e in reduced.get("params").layout]


@pytest.mark.parametrize("preset", [p for p in PRESETS if p != "demo"])
def test_check_of_an_empty_tree_lists_every_file_and_the_fix(tmp_path, preset, capsys):
    manifest = load_preset(preset)
    report = check_tree(manifest, tmp_path)
    expected = [
        e.path + ("/" if e.kind == "dir" else "")
        for db in manifest.databases if not db.optional for e in db.layout
    ]
    assert [p.path for p in report.problems] == expected
    assert main(["databases", "check", "--preset", preset, "--dir", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    required = ",".join(db.name for db in manifest.databases if not db.optional)
    assert f"folding databases download --preset {preset} --dir {tmp_path} --only {required}" \
        in err


def test_build_demo_then_check_catches_corruption(tmp_path, shared_data, capsys):
    root = tmp_path / "demo"
    build = build_demo(root, shared_data)
    counts = {name: count for name, _, count, _ in build.entries}
    assert counts["pdb_mmcif"] == 61 and counts["pdb_seqres"] == 141
    assert counts["uniref90"] > 10000 and counts["small_bfd"] > 1000
    uniref = (root / "uniref90" / "uniref90.fasta").read_text()
    assert ">UniRef90_A0A240SWY4/1-69\n" in uniref  # a real lysozyme homolog of P61626
    assert main(["databases", "check", "--preset", "demo", "--dir", str(root)]) == 0
    fasta = root / "mgnify" / "mgy_clusters_2022_05.fa"
    fasta.write_text(fasta.read_text().replace("A", "C", 1))
    assert main(["databases", "check", "--preset", "demo", "--dir", str(root)]) == 3
    captured = capsys.readouterr()
    assert "mgnify: corrupt: mgnify/mgy_clusters_2022_05.fa (SHA-256" in captured.out
    assert f"folding databases build-demo --dir {root}" in captured.err
    # Building again is deterministic and repairs it.
    build_demo(root, shared_data)
    assert check_tree(load_preset("demo"), root).ok


def test_hit_ids_follow_the_search_order(shared_data):
    ids = hit_pdb_ids([shared_data / "alignments" / "P61626" / "pdb_hits.sto"])
    assert len(ids) == len(set(ids)) > 10
    assert all(len(i) == 4 and i == i.lower() for i in ids)
    hhr = hit_pdb_ids([shared_data / "alignments" / "openfold_short" / "pdb70_hits.hhr"])
    assert hhr and all(len(i) == 4 for i in hhr)


def test_fetch_mmcif_on_demand_from_loopback(tmp_path, http_server, shared_data):
    mmcif_source = shared_data / "templates" / "pdb_mmcif" / "mmcif_files"
    hits = shared_data / "alignments" / "P61626" / "pdb_hits.sto"
    ids = hit_pdb_ids([hits])[:8]
    served = [i for i in ids if (mmcif_source / f"{i}.cif").is_file()]
    assert served, "the demo templates hold some of lysozyme's hits"
    for pdb_id in served:
        http_server.serve(f"/download/{pdb_id}.cif.gz",
                          gzip.compress((mmcif_source / f"{pdb_id}.cif").read_bytes()))
    manifest_path = tmp_path / "m.yaml"
    manifest_path.write_text(
        "preset: loopback\ndatabases:\n  pdb_mmcif:\n    source: on_demand\n"
        f"    on_demand_url: {http_server.base}/download/{{pdb_id}}.cif.gz\n"
        "    layout: [pdb_mmcif/mmcif_files/]\n"
    )
    root = tmp_path / "db"
    result = fetch_template_mmcifs(load_manifest(manifest_path), root, [hits], limit=8,
                                   record=tmp_path / "fetched.json")
    assert sorted(result.fetched) == sorted(served)
    assert sorted(i for i, _ in result.failed) == sorted(set(ids) - set(served))
    for pdb_id in served:
        assert (root / "pdb_mmcif" / "mmcif_files" / f"{pdb_id}.cif").read_bytes() == \
            (mmcif_source / f"{pdb_id}.cif").read_bytes()
    again = fetch_template_mmcifs(load_manifest(manifest_path), root, [hits], limit=8)
    assert sorted(again.present) == sorted(served) and not again.fetched
