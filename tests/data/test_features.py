"""Raw feature assembly: sequence and MSA features, file discovery, the .npz, the command."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from folding.data.features import (
    find_msa_files,
    find_template_hits,
    load_raw_npz,
    msa_features,
    read_msas,
    save_raw_npz,
    sequence_features,
)
from folding.data.parsers.msa import Msa
from folding.errors import InputError


def _msa(rows, descriptions, deletions=None):
    deletions = np.zeros((len(rows), len(rows[0])), np.int32) if deletions is None else deletions
    return Msa(tuple(rows), np.asarray(deletions, np.int32), tuple(descriptions))


def test_msa_rows_are_merged_and_deduplicated_first_kept():
    uniref = _msa(["ACDE", "AC-E", "ACDE", "WCDE"],
                  ["query", "UniRef90_X/1-4", "tr|A0A1|A0A1_HUMAN/2-5", "sp|P12345|LYS_MOUSE"],
                  [[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 3]])
    bfd = _msa(["ACDE", "YCDE"], ["q", "bfd hit"], [[0, 0, 0, 0], [1, 0, 0, 0]])
    mgnify = _msa(["ACDE", "WCDE", "AC-E"], ["q", "m1", "m2"])
    features = msa_features([uniref, bfd, mgnify])
    # HH-suite ids: A=0 C=1 D=2 E=3 W=18 Y=19 -=21
    assert features["msa"].tolist() == [[0, 1, 2, 3], [0, 1, 21, 3], [18, 1, 2, 3],
                                        [19, 1, 2, 3]]
    assert features["deletion_matrix_int"].tolist() == [[0, 0, 0, 0], [0, 1, 0, 0],
                                                        [0, 0, 0, 3], [1, 0, 0, 0]]
    assert features["num_alignments"].tolist() == [4] * 4
    assert list(features["msa_species_identifiers"]) == [b"", b"", b"MOUSE", b""]
    assert {k: v.dtype for k, v in features.items()} == {
        "msa": np.int32, "deletion_matrix_int": np.int32, "num_alignments": np.int32,
        "msa_species_identifiers": object}
    everything = msa_features([uniref, bfd, mgnify], deduplicate=False)
    assert everything["msa"].shape == (9, 4)


def test_rare_letters_and_bad_characters():
    features = msa_features([_msa(["ACDE", "UBZX", "OJ-A"], ["q", "a", "b"])])
    assert features["msa"].tolist()[1:] == [[1, 2, 3, 20], [20, 20, 21, 0]]
    with pytest.raises(InputError, match=r"'\.'"):
        msa_features([_msa(["ACDE", "A.DE"], ["q", "a"])])


@pytest.mark.reference
def test_sequence_and_undeduplicated_msa_features_equal_reference(shared_data):
    af_pipeline = pytest.importorskip("alphafold.data.pipeline")
    from alphafold.data import parsers as af_parsers

    folder = shared_data / "alignments/A0A024R1R8"
    sequence = "".join((shared_data / "queries/A0A024R1R8.fasta").read_text().split("\n")[1:])
    ours = sequence_features(sequence, "A0A024R1R8 test protein")
    ref = af_pipeline.make_sequence_features(sequence, "A0A024R1R8 test protein", len(sequence))
    for key, value in ref.items():
        assert ours[key].dtype == value.dtype and ours[key].shape == value.shape, key
        assert ours[key].tolist() == value.tolist(), key
    msas = read_msas(find_msa_files(folder), sequence)
    ref_msas = [af_parsers.parse_stockholm(af_parsers.truncate_stockholm_msa(
                    str(folder / "uniref90_hits.sto"), 10_000)),
                af_parsers.parse_a3m((folder / "bfd_uniref_hits.a3m").read_text()),
                af_parsers.parse_stockholm(af_parsers.truncate_stockholm_msa(
                    str(folder / "mgnify_hits.sto"), 501))]
    # The fork does not deduplicate, so it is compared with deduplicate=False here.
    ref = af_pipeline.make_msa_features(ref_msas)
    ours = msa_features(msas, deduplicate=False)
    for key, value in ref.items():
        assert ours[key].dtype == value.dtype and ours[key].shape == value.shape, key
        assert ours[key].tolist() == value.tolist(), key


def test_file_discovery_follows_alphafolds_names(shared_data, tmp_path):
    names = [f.path.name for f in find_msa_files(shared_data / "alignments/openfold_short")]
    assert names == ["uniref90_hits.sto", "bfd_uniclust_hits.a3m", "mgnify_hits.sto"]
    rows = [f.max_rows for f in find_msa_files(shared_data / "alignments/P61626")]
    assert rows == [10_000, None, 501]
    assert find_template_hits(shared_data / "alignments/A0A024R1R8").name == "pdb_hits.hhr"
    assert find_template_hits(shared_data / "alignments/P61626").name == "pdb_hits.sto"
    assert find_template_hits(shared_data / "alignments/openfold_short").name == "pdb70_hits.hhr"
    assert find_template_hits(tmp_path) is None
    with pytest.raises(InputError, match="holds none of"):
        find_msa_files(tmp_path)
    with pytest.raises(InputError, match="not found"):
        find_msa_files(tmp_path / "missing")


def test_npz_round_trip_needs_no_pickle(tmp_path):
    features = {**sequence_features("ACDX", "target one"),
                **msa_features([_msa(["ACDX", "AC-X"], ["q", "sp|P1|X_HUMAN"])]),
                "template_domain_names": np.array([], dtype=object)}
    path = tmp_path / "raw.npz"
    save_raw_npz(path, features)
    with np.load(path, allow_pickle=False) as data:
        assert data["sequence"].dtype.kind == "S"
    loaded = load_raw_npz(path)
    assert sorted(loaded) == sorted(features)
    for key, value in features.items():
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape, key
        assert loaded[key].tolist() == value.tolist(), key


def _run(venv_bin, *argv):
    return subprocess.run([str(venv_bin / "folding"), "features", *map(str, argv)],
                          capture_output=True, text=True, check=False)


def test_command_without_templates_and_its_errors(shared_data, tmp_path, venv_bin):
    fasta = shared_data / "queries/openfold_short.fasta"
    msas = shared_data / "alignments/openfold_short"
    output = tmp_path / "out" / "RAW.npz"
    done = _run(venv_bin, "--fasta", fasta, "--msa-dir", msas, "--no-templates",
                "--output", output)
    assert done.returncode == 0, done.stderr
    raw = load_raw_npz(output)
    assert not [k for k in raw if k.startswith("template")]
    assert raw["aatype"].shape == (73, 21) and raw["msa"].shape[1] == 73
    assert raw["domain_name"].tolist() == [b"query"]

    no_date = _run(venv_bin, "--fasta", fasta, "--msa-dir", msas, "--template-mmcif-dir",
                   shared_data / "alignments/openfold_short_mmcifs", "--output", tmp_path / "a.npz")
    assert no_date.returncode == 2 and "--max-template-date" in no_date.stderr
    empty = tmp_path / "msas"
    empty.mkdir()
    shutil.copy(msas / "uniref90_hits.sto", empty)
    no_hits = _run(venv_bin, "--fasta", fasta, "--msa-dir", empty, "--template-mmcif-dir",
                   shared_data / "alignments/openfold_short_mmcifs", "--max-template-date",
                   "2021-01-01", "--output", tmp_path / "b.npz")
    assert no_hits.returncode == 2 and "no template hits" in no_hits.stderr
    bad = tmp_path / "bad.fasta"
    bad.write_text(">x\nACD*EF\n")
    bad_query = _run(venv_bin, "--fasta", bad, "--msa-dir", msas, "--no-templates",
                     "--output", tmp_path / "c.npz")
    assert bad_query.returncode == 2 and "'*' at position 4" in bad_query.stderr
    for status in (no_date, no_hits, bad_query):
        errors = [line for line in status.stderr.splitlines() if "error" in line.lower()]
        assert len(errors) == 1 and errors[0].startswith("folding: error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.fasta", "msas", "out"]
