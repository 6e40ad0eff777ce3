"""The external-tool interface (run_tool, find_binary, tool_version) and database ranges."""

from __future__ import annotations

import itertools
import os
import sys

import pytest

from folding.data.parsers import parse_fasta
from folding.data.tools import ToolRun, find_binary, last_error_line, run_tool, tool_version
from folding.data.tools.sequence_db import FastaDatabase
from folding.errors import MissingResourceError, ToolError


def test_run_tool_captures_output():
    code = "import sys; print('out'); print('err', file=sys.stderr)"
    run = run_tool([sys.executable, "-c", code])
    assert isinstance(run, ToolRun)
    assert run.returncode == 0 and run.stdout == "out\n" and run.stderr == "err\n"
    assert run.seconds >= 0 and run.command.startswith(sys.executable)


def test_run_tool_failure_is_one_line():
    script = "import sys; print('progress...', file=sys.stderr); " \
             "print('ERROR: database file is corrupt', file=sys.stderr); print('bye', " \
             "file=sys.stderr); sys.exit(3)"
    with pytest.raises(ToolError) as error:
        run_tool([sys.executable, "-c", script], fix="rebuild the database")
    message = str(error.value)
    assert "\n" not in message
    assert message == (f"{sys.executable.rsplit('/', 1)[-1]} failed with exit status 3: "
                       "ERROR: database file is corrupt; rebuild the database")
    assert error.value.exit_code == 4


def test_run_tool_timeout_and_missing_program():
    with pytest.raises(ToolError, match=r"did not finish within 0\.2 s"):
        run_tool([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.2)
    with pytest.raises(MissingResourceError, match="cannot run /nonexistent/jackhmmer"):
        run_tool(["/nonexistent/jackhmmer", "-h"])
    with pytest.raises(ValueError):
        run_tool([])


def test_no_shell_interpretation(tmp_path):
    marker = tmp_path / "marker"
    run = run_tool(["echo", f"; touch {marker}"])
    assert run.stdout.strip() == f"; touch {marker}" and not marker.exists()


def test_find_binary():
    assert find_binary("python3", sys.executable) == sys.executable
    with pytest.raises(MissingResourceError) as error:
        find_binary("no-such-tool-xyz")
    assert str(error.value) == ("no-such-tool-xyz not found on PATH; install it "
                                "(apt-get install no-such-tool-xyz) or add the folder that "
                                "holds it to PATH")


def test_find_binary_names_the_debian_package(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(MissingResourceError, match=r"install it \(apt-get install hmmer\)"):
        find_binary("jackhmmer")
    assert os.environ["PATH"] == ""


def test_tool_version():
    assert tool_version(sys.executable, ["--version"]).startswith("Python 3")
    assert tool_version(sys.executable, ["--version"], pattern=r"Python (\d+)") == "3"
    assert tool_version("/nonexistent/tool") == "unknown"
    assert last_error_line("a\nFatal: no such file\nlast\n") == "Fatal: no such file"
    assert last_error_line("") == ""


def test_fasta_ranges_cover_the_file_at_record_starts(shared_data):
    db = FastaDatabase(shared_data / "sequences/hemopexin.faa")
    data = db.path.read_bytes()
    for pieces in (1, 2, 7, 64, 5000):
        ranges = db.ranges(pieces)
        assert ranges[0][0] == 0 and ranges[-1][1] == db.size
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        assert all(data[start:start + 1] == b">" for start, _ in ranges)
        assert len(ranges) <= pieces
        records = sum(len(parse_fasta(data[s:e].decode())) for s, e in ranges)
        assert records == 4188


def test_every_range_reads_back_its_sequences(shared_data):
    db = FastaDatabase(shared_data / "sequences/globins45.fa")
    names = []
    for start, end in db.ranges(5):
        with db.open_range(start, end) as handle:
            names.extend(seq.name for seq in handle)
    expected = [r.name for r in parse_fasta(db.path.read_text())]
    assert names == expected


def test_database_errors(tmp_path):
    with pytest.raises(MissingResourceError, match="not found; build or download it"):
        FastaDatabase(tmp_path / "missing.fasta")
    empty = tmp_path / "empty.fasta"
    empty.write_text("")
    with pytest.raises(MissingResourceError, match="is empty; rebuild it"):
        FastaDatabase(empty)
