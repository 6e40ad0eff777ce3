"""reduced_dbs for real: jackhmmer on UniRef90 and small BFD, hmmsearch on PDB seqres, and
the template hits' mmCIF files fetched on demand, here from a PDB mirror on loopback."""

from __future__ import annotations

import functools
import gzip
import json
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def pdb_mirror(tmp_path, shared_data):
    """A loopback web server holding <id>.cif.gz of the demo PDB entries."""
    folder = tmp_path / "mirror" / "download"
    folder.mkdir(parents=True)
    for cif in (shared_data / "templates" / "pdb_mmcif" / "mmcif_files").glob("*.cif"):
        (folder / f"{cif.stem}.cif.gz").write_bytes(gzip.compress(cif.read_bytes()))
    handler = functools.partial(_QuietHandler, directory=str(tmp_path / "mirror"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/download/{{pdb_id}}.cif.gz"
    server.shutdown()
    server.server_close()


def test_reduced_dbs_fetches_template_mmcifs_on_demand(
    pdb_mirror, demo_db, run_workflow, fasta_writer, tiny_sequences, tmp_path, monkeypatch
):
    manifests = tmp_path / "manifests"
    shutil.copytree(ROOT / "databases", manifests)
    reduced = yaml.safe_load((manifests / "reduced_dbs.yaml").read_text())
    reduced["databases"]["pdb_mmcif"]["on_demand_url"] = [pdb_mirror]
    (manifests / "reduced_dbs.yaml").write_text(yaml.safe_dump(reduced))
    monkeypatch.setenv("FOLDING_MANIFEST_DIR", str(manifests))

    tree = tmp_path / "reduced"
    for name in ("uniref90", "small_bfd", "pdb_seqres"):
        shutil.copytree(demo_db / name, tree / name)
    (tree / "pdb_mmcif" / "mmcif_files").mkdir(parents=True)  # empty: nothing mirrored
    shutil.copyfile(demo_db / "pdb_mmcif" / "obsolete.dat", tree / "pdb_mmcif" / "obsolete.dat")

    inputs = fasta_writer(tmp_path / "in.fasta", {"lyso40": tiny_sequences["lyso40"]})
    out = tmp_path / "out"
    config = {"input": inputs, "output_dir": out, "preset": "reduced_dbs",
              "database_dir": tree, "allow_untrained_params": "true",
              "template_fetch_limit": 5}
    target = str(out / "lyso40" / "provenance" / "features.json")
    run = run_workflow(target, config=config)
    assert run.returncode == 0, run.output[-4000:]
    assert run.jobs["msa_jackhmmer"] == 2 and run.jobs["template_mmcifs"] == 1
    assert sorted(p.name for p in (out / "lyso40" / "msas").iterdir()) == [
        "pdb_hits.sto", "small_bfd_hits.sto", "sources.json", "uniref90_hits.sto"]
    fetched = sorted(p.stem for p in (tree / "pdb_mmcif" / "mmcif_files").glob("*.cif"))
    assert 1 <= len(fetched) <= 5
    templates = json.loads((out / "lyso40" / "provenance" / "templates.json").read_text())
    assert sorted(templates["details"]["mmcif_fetch"]["fetched"]) == fetched
    with __import__("numpy").load(out / "lyso40" / "features.npz") as features:
        assert features["template_aatype"].shape[0] >= 1  # the fetched lysozymes are used
