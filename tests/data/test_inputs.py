"""Input checks: every bad input fails with its exact message, a non-zero exit, no output."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess

import pytest

from folding.cli import main
from folding.inputs import Chain, Target, read_targets, sanitise_name

GENERIC = "use only the one-letter amino-acid codes (20 standard, X, U, O, B, Z, J)"
DUPLICATE = "(names are compared ignoring case); give each record a unique name"

# (file content, message with {f} for the file's path); each is one bad input file
BAD_FILES: list[tuple[bytes | str, str]] = [
    ("", "{f}: the file is empty; give at least one '>name' record"),
    ("\n  \n\t\n", "{f}: the file is empty; give at least one '>name' record"),
    ("MKVLAAGIV\n", "{f}: line 1 comes before the first '>' header; a FASTA file starts with "
     "a '>name' line"),
    ("\nnotes\n>a\nMKV\n", "{f}: line 2 comes before the first '>' header; a FASTA file starts "
     "with a '>name' line"),
    (b"\xff\xfe>a\nMKV\n", "{f}: not a text file (byte 1 is not UTF-8); give a FASTA file"),
    (b">a\nMK\xe9V\n", "{f}: not a text file (byte 6 is not UTF-8); give a FASTA file"),
    (">a\n", "{f}: record 'a' has an empty sequence; add its sequence or remove the record"),
    (">a\nMKV\n>b\n\n>c\nMKL\n", "{f}: record 'b' has an empty sequence; add its sequence or "
     "remove the record"),
    (">\nMKV\n", "{f}: record 1 (line 1): the header has no name; write a name after '>'"),
    (">a\nMKV\n>   \nMKV\n", "{f}: record 2 (line 3): the header has no name; write a name "
     "after '>'"),
    (">a\x1b[31m\nMKV\n", "{f}: record 1 (line 1): the header contains a control character; "
     "remove it from the name"),
    (">a\x00b\nMKV\n", "{f}: record 1 (line 1): the header contains a control character; "
     "remove it from the name"),
    (">ab\x7f\nMKV\n", "{f}: record 1 (line 1): the header contains a control character; "
     "remove it from the name"),
    (">" + "N" * 101 + "\nMKV\n", "{f}: record 1 (line 1): the name 'NNNNNNNNNNNNNNNNNNNN...' "
     "is 101 characters long; shorten it to at most 100"),
    (">a\nMKV1L\n", "{f}: record 'a': invalid character '1' at residue 4 (line 2, column 4); "
     "remove the numbers (residue counts from a GenBank-style listing)"),
    (">a\nMKVL*\n", "{f}: record 'a': invalid character '*' at residue 5 (line 2, column 5); "
     "remove the trailing '*' (a stop codon)"),
    (">a\nMK*VL\n", "{f}: record 'a': invalid character '*' at residue 3 (line 2, column 3); "
     "remove the '*' (a stop codon inside the sequence)"),
    (">a\nMK-VL\n", "{f}: record 'a': invalid character '-' at residue 3 (line 2, column 3); "
     "give the unaligned sequence, without gaps"),
    (">a\nMKV.L\n", "{f}: record 'a': invalid character '.' at residue 4 (line 2, column 4); "
     "give the unaligned sequence, without gaps"),
    (">a\nMK VL\n", "{f}: record 'a': invalid character ' ' at residue 3 (line 2, column 3); "
     "remove the spaces inside the sequence line"),
    (">a\nMK\tVL\n", "{f}: record 'a': invalid character '\\t' at residue 3 (line 2, column 3); "
     "remove the spaces inside the sequence line"),
    (">a\nMKVL\nAA#G\n", "{f}: record 'a': invalid character '#' at residue 7 (line 3, "
     f"column 3); {GENERIC}"),
    (">a\nMKVÅL\n", f"{{f}}: record 'a': invalid character 'Å' at residue 4 (line 2, column 4); "
     f"{GENERIC}"),
    (">a\nmkv@l\n", f"{{f}}: record 'a': invalid character '@' at residue 4 (line 2, column 4); "
     f"{GENERIC}"),
    (">ab\nMKVL:GGLA\n>dna\nMKVLA:GATTACAGATTACA\n", "{f}: record 'dna' chain 2 looks like "
     "DNA (only A, C, G, T, N); this pipeline predicts protein chains: remove the nucleic-acid "
     "chain"),
    (">ab\nMKVL:GGLA\n", "{f}: target 'ab' has 8 residues in 2 chains, more than the maximum "
     "5; predict a smaller sub-complex or raise --max-length"),
    (">ab\nMKVL:GGLA:\n", "{f}: record 'ab' chain 3 is empty; remove the extra ':' or add the "
     "chain's sequence"),
    (">many copies=31\nMKV:GGL:PPW\n", "{f}: target 'many' has 93 chains, more than the 62 the "
     "multimer model supports (one PDB chain id each); predict it as smaller sub-complexes"),
    (">d\nGATTACA\n", "{f}: record 'd' looks like DNA (only A, C, G, T, N); this pipeline "
     "predicts proteins: give the protein sequence"),
    (">d\nacgtnnacgt\n", "{f}: record 'd' looks like DNA (only A, C, G, T, N); this pipeline "
     "predicts proteins: give the protein sequence"),
    (">r\nAUGGCUACGUAG\n", "{f}: record 'r' looks like RNA (only A, C, G, U, N); this pipeline "
     "predicts proteins: give the protein sequence"),
    (">x\nXXXXXXXX\n", "{f}: record 'x' has only unknown residues (X); give the real sequence"),
    (">x\nxx\nx\n", "{f}: record 'x' has only unknown residues (X); give the real sequence"),
    (">a\nMKVLAAGIVLL\n", "{f}: record 'a' is 11 residues long, more than the maximum 10; "
     "split it into domains or raise --max-length"),
    (">a\nMKV\n>b\nMKL\n>A\nMKL\n", "{f}: record 3 is named 'A' like record 1, with other "
     "records between; list a complex's chains one after another, and give other targets "
     "their own names"),
    (">a\nMKV\n>b\nMK1\n>c\nGATTACA\n", "{f}: record 'b': invalid character '1' at residue 3 "
     "(line 4, column 3); remove the numbers (residue counts from a GenBank-style listing) "
     "(1 more problem logged above)"),
]


def _run(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def _nothing_written(out) -> bool:
    return not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(("content", "message"), BAD_FILES)
def test_bad_input_file(tmp_path, capsys, content, message):
    path = tmp_path / "input.fasta"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    out = tmp_path / "out"
    limit = "5" if "maximum 5;" in message else "10"
    code, err = _run(["inputs", "check", "--input", str(path), "--max-length", limit,
                      "--output-dir", str(out)], capsys)
    assert code == 2
    assert err.splitlines()[-1] == "folding: error: " + message.format(f=path)
    assert _nothing_written(out)


def test_bad_paths_and_options(tmp_path, capsys):
    out = tmp_path / "out"
    missing = tmp_path / "missing.fasta"
    code, err = _run(["inputs", "check", "-i", str(missing), "-o", str(out)], capsys)
    assert code == 2
    assert err.splitlines()[-1] == (
        f"folding: error: {missing}: no such file or folder; check the --input path"
    )
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    (empty / "notes.txt").write_text(">a\nMKV\n")
    code, err = _run(["inputs", "check", "-i", str(empty), "-o", str(out)], capsys)
    assert code == 2
    assert err.splitlines()[-1] == (
        f"folding: error: {empty}: no FASTA files (*.fasta, *.fa, *.faa, *.fas) in this folder; "
        "point --input at a FASTA file or a folder of them"
    )
    good = tmp_path / "good.fasta"
    good.write_text(">a\nMKV\n")
    code, err = _run(["inputs", "check", "-i", str(good), "--max-length", "0", "-o", str(out)],
                     capsys)
    assert code == 2
    assert err.splitlines()[-1] == (
        "folding: error: --max-length must be a positive number of residues, not 0"
    )
    assert _nothing_written(out)


def test_duplicate_across_files_in_a_folder(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "one.fasta").write_text(">T1\nMKVLA\n")
    (folder / "two.fa").write_text(">t1\nMKVLG\n")
    out = tmp_path / "out"
    code, err = _run(["inputs", "check", "-i", str(folder), "-o", str(out)], capsys)
    assert code == 2
    assert err.splitlines()[-1] == (
        f"folding: error: {folder / 'two.fa'}: record 1 is named 't1' like record 1 of "
        f"{folder / 'one.fasta'} " + DUPLICATE
    )
    assert _nothing_written(out)


def test_real_nucleic_acid_queries(shared_data, tmp_path, capsys):
    queries = shared_data / "queries"
    for name, message in [
        ("dna.fasta", "record 'DNA_D' looks like DNA (only A, C, G, T, N); this pipeline "
         "predicts proteins: give the protein sequence (1 more problem logged above)"),
        ("rna.fasta", "record 'test_rna_1' looks like RNA (only A, C, G, U, N); this pipeline "
         "predicts proteins: give the protein sequence"),
    ]:
        out = tmp_path / name
        code, err = _run(["inputs", "check", "-i", str(queries / name), "-o", str(out)], capsys)
        assert code == 2
        assert err.splitlines()[-1] == f"folding: error: {queries / name}: {message}"
        assert _nothing_written(out)


def test_good_inputs_written(tmp_path, capsys, caplog):
    path = tmp_path / "in.fasta"
    path.write_text(
        ">sp|P69905|HBA_HUMAN Hemoglobin alpha\nmvlspadktn\nVKAAWGKVGA\n"
        ">../../etc/passwd\nMKVLAAGIVG\n"
        ">-rf  selenoprotein\nMKUVLBZOJX\n"
    )
    out = tmp_path / "out"
    code, err = _run(["inputs", "check", "-i", str(path), "-o", str(out)], capsys)
    assert code == 0, err
    names = (out / "targets.txt").read_text().split()
    assert names == ["sp_P69905_HBA_HUMAN", "___.._etc_passwd", "_rf"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}.fasta" for n in names] + ["targets.json", "targets.txt"]
    )
    assert (out / "sp_P69905_HBA_HUMAN.fasta").read_text() == (
        ">sp_P69905_HBA_HUMAN Hemoglobin alpha\nMVLSPADKTNVKAAWGKVGA\n"
    )
    summary = json.loads((out / "targets.json").read_text())
    assert [t["name"] for t in summary["targets"]] == names
    assert summary["rejected"] == [] and summary["max_length"] == 5000
    rare = summary["targets"][2]
    assert rare["sequence"] == "MKUVLBZOJX" and rare["length"] == 10
    assert "1 x U (selenocysteine), first at residue 3: read as X in the sequence features and " \
        "as C in the MSA, as AlphaFold does" in rare["warnings"]
    assert len(rare["warnings"]) == 6  # the name and five rare letters
    assert "name '-rf' is used as '_rf'" in rare["warnings"][0]
    assert any("selenocysteine" in r.message and r.levelname == "WARNING" for r in caplog.records)
    # a re-run with the same inputs leaves every file untouched
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    os.utime(path)
    assert main(["inputs", "check", "-i", str(path), "-o", str(out)]) == 0
    assert stamps == {p.name: p.stat().st_mtime_ns for p in out.iterdir()}


def test_skip_invalid_writes_only_good_targets(tmp_path, capsys):
    path = tmp_path / "in.fasta"
    path.write_text(">good\nMKVLA\n>bad\nMK1LA\n>dna\nGATTACA\n")
    out = tmp_path / "out"
    code, _ = _run(["inputs", "check", "-i", str(path), "-o", str(out), "--skip-invalid"], capsys)
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["good.fasta", "targets.json", "targets.txt"]
    summary = json.loads((out / "targets.json").read_text())
    assert [r["source"] for r in summary["rejected"]] == [f"{path}:2", f"{path}:3"]
    # nothing valid left: still an error, and nothing written
    only_bad = tmp_path / "bad.fasta"
    only_bad.write_text(">dna\nGATTACA\n")
    code, err = _run(["inputs", "check", "-i", str(only_bad), "-o", str(tmp_path / "o2"),
                      "--skip-invalid"], capsys)
    assert code == 2
    assert err.splitlines()[-1] == (
        "folding: error: no valid target in the input (1 rejected); fix the records listed above"
    )
    assert not (tmp_path / "o2").exists()


def test_real_query_folder(shared_data, capsys):
    checked = read_targets(shared_data / "queries", skip_invalid=True)
    names = [t.name for t in checked.targets]
    assert "T1024" in names and "P61626" in names and "sp_P04737_PIL1_ECOLI" in names
    assert all(t.is_monomer for t in checked.targets)
    assert len(checked.rejected) == 6  # 2 DNA, 1 RNA, 1 H1065 duplicate, 2 multi_protein dups


def test_check_only_prints_targets(shared_data, capsys):
    assert main(["inputs", "check", "-i", str(shared_data / "queries/T1024.fasta")]) == 0
    assert capsys.readouterr().out.split("\t")[:2] == ["T1024", "408"]


def test_target_type_is_frozen_and_ready_for_chains():
    target = Target("t", (Chain("MKV"), Chain("GGL")), "t two chains", "x.fasta:1")
    assert not target.is_monomer and len(target) == 6
    with pytest.raises(ValueError, match="2 chains"):
        _ = target.sequence
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.name = "u"  # type: ignore[misc]
    assert sanitise_name("a b/c|d") == "a_b_c_d" and sanitise_name("..") == "__"


def test_console_script_exit_status(tmp_path, venv_bin):
    path = tmp_path / "dna.fasta"
    path.write_text(">d\nGATTACA\n")
    done = subprocess.run([str(venv_bin / "folding"), "inputs", "check", "-i", str(path),
                           "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("folding: error: ")
    assert not (tmp_path / "out").exists()


def test_complexes_are_targets_with_chains(shared_data, tmp_path, capsys):
    """`folding inputs check` is the one entry point: ':'-separated chains, consecutive
    records of one name and copies=N make complexes; monomers stay as they were."""
    path = tmp_path / "in.fasta"
    path.write_text(">ab\nMKVL:GGLA\n>mono\nMKVLAAGIVG\n>a2 copies=2 homodimer\nmkvl\n"
                    ">h\nMKVLA\n>H second chain\nGGSSA\n")
    out = tmp_path / "out"
    code, err = _run(["inputs", "check", "-i", str(path), "-i",
                      str(shared_data / "queries" / "H1065.fasta"), "-o", str(out)], capsys)
    assert code == 0, err
    summary = json.loads((out / "targets.json").read_text())
    by_name = {t["name"]: t for t in summary["targets"]}
    assert list(by_name) == ["ab", "mono", "a2", "h", "H1065"]
    assert by_name["ab"]["chains"] == [
        {"chain_id": "A", "entity_id": 1, "length": 4, "sequence": "MKVL"},
        {"chain_id": "B", "entity_id": 2, "length": 4, "sequence": "GGLA"}]
    assert by_name["ab"]["num_chains"] == 2 and by_name["ab"]["length"] == 8
    assert by_name["mono"]["chains"] == [
        {"chain_id": "A", "entity_id": 1, "length": 10, "sequence": "MKVLAAGIVG"}]
    assert [(c["chain_id"], c["entity_id"]) for c in by_name["a2"]["chains"]] == [
        ("A", 1), ("B", 1)]
    assert (out / "a2.fasta").read_text() == ">a2 homodimer\nMKVL:MKVL\n"
    assert by_name["h"]["sequence"] == "MKVLA:GGSSA"
    assert [c["length"] for c in by_name["H1065"]["chains"]] == [127, 98]
    # Check only: name, total length, source and the chain lengths.
    assert main(["inputs", "check", "-i", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"ab\t8\t{path}:1\t4+4" and lines[1] == f"mono\t10\t{path}:2\t10"
    # --max-chains bounds the chains of a complex.
    code, err = _run(["inputs", "check", "-i", str(path), "--max-chains", "1",
                      "-o", str(tmp_path / "o2")], capsys)
    assert code == 2 and err.splitlines()[-1] == (
        f"folding: error: {path}: target 'ab' has 2 chains, more than the 1 allowed "
        "(--max-chains); predict it as smaller sub-complexes (2 more problems logged above)")
    assert not (tmp_path / "o2").exists()
