"""The PDB mmCIF mirror of full_dbs (source: rsync) against a real rsync daemon on loopback.

The daemon serves a module laid out as the PDB's ``structures/divided/mmCIF/`` tree
(``XX/xxxx.cif.gz``) made from the real template entries of the data folder; the
download runs the same code path as ``folding databases download --preset full_dbs``.
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from folding.cli import main
from folding.databases.check import check_tree
from folding.databases.download import DownloadOptions, download_databases
from folding.databases.manifest import load_manifest

pytestmark = pytest.mark.skipif(shutil.which("rsync") is None,
                                reason="rsync not installed (apt-get install rsync)")

FAST = DownloadOptions(jobs=2, retries=1, timeout=5, backoff=0.01, progress_interval=0)
ENTRIES = ("1lyz", "2lzm", "1a0b", "1mbn", "2q2k", "3l4q")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _divided_tree(tree: Path, mmcif_source: Path, ids: list[str]) -> None:
    for pdb_id in ids:
        folder = tree / pdb_id[1:3]
        folder.mkdir(parents=True, exist_ok=True)
        data = (mmcif_source / f"{pdb_id}.cif").read_bytes()
        (folder / f"{pdb_id}.cif.gz").write_bytes(gzip.compress(data, mtime=0))


@pytest.fixture
def rsync_daemon(tmp_path, shared_data):
    """An rsync daemon on 127.0.0.1 serving module ``pdb`` (a divided mmCIF tree)."""
    mmcif_source = shared_data / "templates" / "pdb_mmcif" / "mmcif_files"
    ids = [i for i in ENTRIES if (mmcif_source / f"{i}.cif").is_file()]
    ids += sorted(p.stem for p in mmcif_source.glob("*.cif") if p.stem not in ids)[:6 - len(ids)]
    tree = tmp_path / "server" / "mmCIF"
    _divided_tree(tree, mmcif_source, ids)
    port = _free_port()
    config = tmp_path / "server" / "rsyncd.conf"
    config.write_text(
        f"pid file = {tmp_path / 'server' / 'rsyncd.pid'}\n"
        f"log file = {tmp_path / 'server' / 'rsyncd.log'}\n"
        f"use chroot = no\nuid = {os.getuid()}\ngid = {os.getgid()}\n"
        f"[pdb]\n    path = {tree}\n    read only = yes\n"
    )
    daemon = subprocess.Popen(
        ["rsync", "--daemon", "--no-detach", f"--config={config}", f"--port={port}",
         "--address=127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError as error:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"rsync daemon did not start: {daemon.stderr.read()}") from error
                time.sleep(0.05)
        yield port, tree, mmcif_source, ids
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def _manifest(tmp_path: Path, port: int, obsolete_url: str) -> Path:
    path = tmp_path / "full.yaml"
    path.write_text(yaml.safe_dump({"preset": "loopback", "databases": {"pdb_mmcif": {
        "source": "rsync", "version": "test",
        "rsync_url": "127.0.0.1::pdb/", "rsync_port": port,
        "downloads": [{"url": obsolete_url, "into": "pdb_mmcif"}],
        "layout": ["pdb_mmcif/mmcif_files/", "pdb_mmcif/obsolete.dat"],
    }}}))
    return path


def test_rsync_mirror_is_flattened_decompressed_and_idempotent(
    tmp_path, rsync_daemon, http_server, shared_data
):
    port, tree, mmcif_source, ids = rsync_daemon
    obsolete = (shared_data / "templates" / "pdb_mmcif" / "obsolete.dat").read_bytes()
    manifest = load_manifest(_manifest(
        tmp_path, port, http_server.serve("/status/obsolete.dat", obsolete)))
    root = tmp_path / "db"
    results = download_databases(manifest, root, options=FAST)
    assert [(r.name, r.status) for r in results] == [("pdb_mmcif", "installed")], results
    flat = root / "pdb_mmcif" / "mmcif_files"
    assert sorted(p.name for p in flat.iterdir()) == sorted(f"{i}.cif" for i in ids)
    for pdb_id in ids:
        assert (flat / f"{pdb_id}.cif").read_bytes() == \
            (mmcif_source / f"{pdb_id}.cif").read_bytes()
    # The raw mirror keeps the server's divided layout, so a re-run transfers only changes.
    assert (root / "pdb_mmcif" / "raw" / ids[0][1:3] / f"{ids[0]}.cif.gz").is_file()
    assert (root / "pdb_mmcif" / "obsolete.dat").read_bytes() == obsolete
    assert check_tree(manifest, root).ok

    # Installed: a second run does nothing.
    assert [r.status for r in download_databases(manifest, root, options=FAST)] == ["up to date"]

    # The PDB adds an entry and revises another: a forced re-run (the update path) picks up
    # both and leaves the untouched files alone.
    before = {p.name: p.stat().st_mtime_ns for p in flat.iterdir()}
    new_id = next(p.stem for p in sorted(mmcif_source.glob("*.cif")) if p.stem not in ids)
    _divided_tree(tree, mmcif_source, [new_id])
    revised = tree / ids[1][1:3] / f"{ids[1]}.cif.gz"
    revised.write_bytes(gzip.compress(b"data_REVISED\n", mtime=0))
    os.utime(revised, (time.time() + 5, time.time() + 5))
    forced = DownloadOptions(**{**FAST.__dict__, "force": True})
    assert [r.status for r in download_databases(manifest, root, options=forced)] == [
        "installed"]
    assert (flat / f"{new_id}.cif").read_bytes() == (mmcif_source / f"{new_id}.cif").read_bytes()
    assert (flat / f"{ids[1]}.cif").read_bytes() == b"data_REVISED\n"
    for pdb_id in ids[2:]:
        assert (flat / f"{pdb_id}.cif").stat().st_mtime_ns == before[f"{pdb_id}.cif"]
    assert not list(flat.glob(".*"))  # no temporary files left behind


def test_unreachable_rsync_server_fails_in_one_line(tmp_path, http_server, capsys):
    url = http_server.serve("/status/obsolete.dat", b"")
    manifest = _manifest(tmp_path, _free_port(), url)  # nothing listens there
    root = tmp_path / "db"
    code = main(["databases", "download", "--manifest", str(manifest), "--dir", str(root),
                 "--retries", "1", "--timeout", "3"])
    assert code == 3
    captured = capsys.readouterr()
    assert "pdb_mmcif: failed" in captured.out
    lines = [line for line in captured.err.splitlines() if line.startswith("folding: error:")]
    assert len(lines) == 1
    assert "cannot connect to the rsync server" in lines[0]
    assert f"--manifest {manifest} --dir {root} --only pdb_mmcif" in lines[0]
    assert not list((root / "pdb_mmcif" / "mmcif_files").glob("*.cif"))
