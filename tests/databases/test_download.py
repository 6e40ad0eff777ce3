"""Downloads against a real HTTP server on loopback, serving real files from the data folder."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
import yaml

from folding.cli import main
from folding.databases.check import check_tree
from folding.databases.download import DownloadOptions, download_databases
from folding.databases.manifest import load_manifest

FAST = DownloadOptions(jobs=2, retries=4, timeout=10, backoff=0.01, progress_interval=0)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_manifest(path: Path, databases: dict) -> Path:
    path.write_text(yaml.safe_dump({"preset": "loopback", "databases": databases}))
    return path


@pytest.fixture
def sequences(shared_data) -> bytes:
    return (shared_data / "sequences" / "uniprot_500.fasta").read_bytes()


@pytest.fixture
def gz_sequences(sequences) -> bytes:
    return gzip.compress(sequences, mtime=0)


def _uniref_manifest(tmp_path: Path, url: str, sha: str | None, size: int | None = None) -> Path:
    return _write_manifest(tmp_path / "m.yaml", {
        "uniref90": {
            "version": "test", "disk_gb": 0.0003,
            "downloads": [{"url": url, "unpack": "gunzip", "into": "uniref90",
                           "output": "uniprot_500.fasta", "sha256": sha, "size": size}],
            "layout": ["uniref90/uniprot_500.fasta"],
        },
    })


def test_download_unpacks_verifies_records_and_is_idempotent(
    tmp_path, http_server, sequences, gz_sequences
):
    url = http_server.serve("/uniprot_500.fasta.gz", gz_sequences)
    manifest = load_manifest(_uniref_manifest(tmp_path, url, _sha(gz_sequences)))
    root = tmp_path / "db"
    results = download_databases(manifest, root, options=FAST)
    assert [(r.name, r.status) for r in results] == [("uniref90", "installed")]
    installed = root / "uniref90" / "uniprot_500.fasta"
    assert installed.read_bytes() == sequences
    assert not (root / "uniref90" / "uniprot_500.fasta.gz").exists()  # archive removed
    record = json.loads((root / ".folding" / "uniref90.json").read_text())
    assert record["files"]["uniref90/uniprot_500.fasta"]["sha256"] == _sha(sequences)
    assert check_tree(manifest, root).ok
    before = len(http_server.log)
    again = download_databases(manifest, root, options=FAST)
    assert [(r.name, r.status) for r in again] == [("uniref90", "up to date")]
    assert len(http_server.log) == before  # nothing fetched the second time


def test_dropped_connection_resumes_with_range(tmp_path, http_server, sequences, gz_sequences):
    size = len(gz_sequences)
    url = http_server.serve("/u.fasta.gz", gz_sequences, drop_after=size // 3, drops_left=2)
    manifest = load_manifest(_uniref_manifest(tmp_path, url, _sha(gz_sequences), size))
    results = download_databases(manifest, tmp_path / "db", options=FAST)
    assert results[0].status == "installed", results[0].detail
    log = http_server.requests("/u.fasta.gz")
    assert [entry[2] for entry in log] == [200, 206, 206]
    assert log[1][1] == f"bytes={size // 3}-" and log[2][1] == f"bytes={2 * (size // 3)}-"
    assert (tmp_path / "db" / "uniref90" / "uniprot_500.fasta").read_bytes() == sequences


def test_killed_download_resumes_from_the_partial_file(tmp_path, http_server, gz_sequences):
    url = http_server.serve("/u.fasta.gz", gz_sequences)
    manifest = load_manifest(_uniref_manifest(tmp_path, url, _sha(gz_sequences)))
    part = tmp_path / "db" / "uniref90" / "u.fasta.gz.part"
    part.parent.mkdir(parents=True)
    half = len(gz_sequences) // 2
    part.write_bytes(gz_sequences[:half])  # what a killed process leaves behind
    results = download_databases(manifest, tmp_path / "db", options=FAST)
    assert results[0].status == "installed"
    assert http_server.requests("/u.fasta.gz") == [("/u.fasta.gz", f"bytes={half}-", 206)]
    assert not part.exists()


def test_server_without_range_support_restarts_cleanly(tmp_path, http_server, gz_sequences):
    url = http_server.serve("/u.fasta.gz", gz_sequences, ignore_range=True)
    manifest = load_manifest(_uniref_manifest(tmp_path, url, _sha(gz_sequences)))
    part = tmp_path / "db" / "uniref90" / "u.fasta.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(gz_sequences[:1000])
    assert download_databases(manifest, tmp_path / "db", options=FAST)[0].status == "installed"
    assert check_tree(manifest, tmp_path / "db").ok


def test_corrupted_download_is_caught_and_removed(tmp_path, http_server, gz_sequences):
    corrupted = bytearray(gz_sequences)
    corrupted[len(corrupted) // 2] ^= 0xFF
    url = http_server.serve("/u.fasta.gz", bytes(corrupted))
    manifest = load_manifest(_uniref_manifest(tmp_path, url, _sha(gz_sequences)))
    results = download_databases(manifest, tmp_path / "db", options=FAST)
    assert results[0].status == "failed"
    assert "checksum mismatch" in results[0].detail
    assert "folding databases download" in results[0].detail
    folder = tmp_path / "db" / "uniref90"
    assert sorted(p.name for p in folder.iterdir()) == []  # nothing that looks finished
    assert not (tmp_path / "db" / ".folding" / "uniref90.json").exists()


def test_mirrors_are_tried_in_order(tmp_path, http_server, gz_sequences):
    good = http_server.serve("/mirror2/u.fasta.gz", gz_sequences)
    manifest_path = _uniref_manifest(tmp_path, "", _sha(gz_sequences))
    data = yaml.safe_load(manifest_path.read_text())
    data["databases"]["uniref90"]["downloads"][0]["url"] = [
        http_server.base + "/mirror1/u.fasta.gz", good]
    manifest_path.write_text(yaml.safe_dump(data))
    manifest = load_manifest(manifest_path)
    assert download_databases(manifest, tmp_path / "db", options=FAST)[0].status == "installed"
    assert [e[2] for e in http_server.log] == [404, 200]


def test_tar_archives_unpack_in_parallel_with_a_file_database(
    tmp_path, http_server, shared_data, gz_sequences
):
    buffer = io.BytesIO()
    cifs = sorted((shared_data / "templates" / "pdb_mmcif" / "mmcif_files").glob("1*.cif"))[:3]
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for cif in cifs:
            tar.add(cif, arcname=f"mmcif_files/{cif.name}")
    archive = buffer.getvalue()
    tar_url = http_server.serve("/cifs.tar.gz", archive, delay=0.02)
    seq_url = http_server.serve("/u.fasta.gz", gz_sequences, delay=0.02)
    manifest = load_manifest(_write_manifest(tmp_path / "m.yaml", {
        "pdb_mmcif": {
            "downloads": [{"url": tar_url, "unpack": "tar.gz", "into": "pdb_mmcif",
                           "sha256": _sha(archive)}],
            "layout": [f"pdb_mmcif/mmcif_files/{c.name}" for c in cifs],
        },
        "uniref90": {
            "downloads": [{"url": seq_url, "unpack": "gunzip", "into": "uniref90",
                           "output": "uniprot_500.fasta"}],
            "layout": ["uniref90/uniprot_500.fasta"],
        },
    }))
    results = download_databases(manifest, tmp_path / "db", options=FAST)
    assert {r.status for r in results} == {"installed"}
    assert http_server.max_active == 2  # both transfers ran at the same time
    for cif in cifs:
        assert (tmp_path / "db" / "pdb_mmcif" / "mmcif_files" / cif.name).read_bytes() == \
            cif.read_bytes()
    # Without a manifest checksum, the computed one was recorded (trust on first use).
    record = json.loads((tmp_path / "db" / ".folding" / "uniref90.json").read_text())
    assert record["sources"][0].startswith("u.fasta.gz sha256:")


def test_tar_members_outside_the_tree_are_refused(tmp_path, http_server):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    url = http_server.serve("/evil.tar", buffer.getvalue())
    manifest = load_manifest(_write_manifest(tmp_path / "m.yaml", {
        "evil": {"downloads": [{"url": url, "unpack": "tar", "into": "evil"}],
                 "layout": ["evil/escape.txt"]},
    }))
    results = download_databases(manifest, tmp_path / "db", options=FAST)
    assert results[0].status == "failed" and "outside" in results[0].detail
    assert not (tmp_path / "db" / "escape.txt").exists()


def test_cli_download_then_check_finds_corruption(
    tmp_path, http_server, gz_sequences, capsys
):
    url = http_server.serve("/u.fasta.gz", gz_sequences, drop_after=5000, drops_left=1)
    manifest = _uniref_manifest(tmp_path, url, _sha(gz_sequences))
    root = tmp_path / "db"
    assert main(["databases", "download", "--manifest", str(manifest), "--dir", str(root),
                 "--retries", "3"]) == 0
    assert "uniref90: installed" in capsys.readouterr().out
    assert main(["databases", "check", "--manifest", str(manifest), "--dir", str(root)]) == 0
    installed = root / "uniref90" / "uniprot_500.fasta"
    data = bytearray(installed.read_bytes())
    data[100] ^= 0x20  # same size, different bytes
    installed.write_bytes(bytes(data))
    assert main(["databases", "check", "--manifest", str(manifest), "--dir", str(root)]) == 3
    captured = capsys.readouterr()
    assert "uniref90: corrupt: uniref90/uniprot_500.fasta (SHA-256" in captured.out
    assert "--manifest" not in captured.err  # check names the preset command
    installed.unlink()
    assert main(["databases", "check", "--manifest", str(manifest), "--dir", str(root)]) == 3
    captured = capsys.readouterr()
    assert "uniref90: missing: uniref90/uniprot_500.fasta" in captured.out
    assert f"folding databases download --preset loopback --dir {root.resolve()} --only " \
        "uniref90" in captured.err


def test_unreachable_server_fails_with_the_resume_command(tmp_path, capsys):
    manifest = _uniref_manifest(tmp_path, "http://127.0.0.1:9/u.fasta.gz", None)
    code = main(["databases", "download", "--manifest", str(manifest), "--dir",
                 str(tmp_path / "db"), "--retries", "1", "--timeout", "2"])
    assert code == 3
    err = capsys.readouterr().err
    assert "folding: error:" in err and "--only uniref90" in err
