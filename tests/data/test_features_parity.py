"""`folding features` against the reference's DataPipeline on AlphaFold's real outputs.

For A0A024R1R8, P61626 and openfold_short, the reference's
``alphafold.data.pipeline.DataPipeline(use_precomputed_msas=True)`` and our
``folding features`` command read the same FASTA, precomputed MSA files and template
folder; every raw feature must agree (keys, dtypes, shapes; integer and string features
identical, float features within 1e-6).

How the reference is run, and why:

* **MSA deduplication restored.** DeepMind's ``make_msa_features`` drops a row whose
  aligned sequence was seen before (in this or an earlier MSA); the PyPI fork has those
  three lines commented out, so it keeps duplicates. We implement AlphaFold's
  deduplication, so the reference's ``make_msa_features`` is wrapped here to drop, before
  it runs, exactly the rows DeepMind's loop drops (the first occurrence is kept, in the
  order uniref90, bfd, mgnify). The test also checks that the fork really differs on
  these data, so the wrapper is not vacuous.
* **Template search replayed.** ``DataPipeline`` always re-runs its template searcher;
  here the searcher returns the precomputed hit file (``pdb_hits.sto`` -> hmmsearch with
  ``HmmsearchHitFeaturizer``; ``pdb_hits.hhr``/``pdb70_hits.hhr`` -> hhsearch with
  ``HhsearchHitFeaturizer``, as AlphaFold pairs them) and parses it with the reference's
  own parser. A0A024R1R8 has both files: AlphaFold's monomer pipeline uses hhsearch, and
  so does ``folding features`` (``pdb_hits.hhr`` first).
* **Hits without an mmCIF removed from the reference's list.** The reference opens the
  mmCIF of every hit and crashes on a missing file; we skip such hits with a logged
  reason. Skipping a hit and never seeing it give the same features, so the reference
  gets the hit list without them (most of the real PDB hits are not in the 61-entry
  template folder).
* **AlphaFold 2.0 file names.** openfold_short has ``bfd_uniclust_hits.a3m`` and
  ``pdb70_hits.hhr`` (AlphaFold 2.0-2.2 names); the reference, which reads 2.3 names, gets
  a copy named ``bfd_uniref_hits.a3m``; we read the old names directly.

Our featuriser also applies DeepMind's template prefilter (aligned columns > 10 % of the
query, template stretch >= 10 residues), which the fork removed; no hit in these data is
affected, which the test checks in our log (no hit ``skipped (prefilter)`` other than for
its date).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.reference

alphafold = pytest.importorskip("alphafold", reason="the reference is not installed")

from alphafold.data import parsers as af_parsers  # noqa: E402
from alphafold.data import pipeline as af_pipeline  # noqa: E402
from alphafold.data import templates as af_templates  # noqa: E402
from alphafold.data.tools import hmmsearch as af_hmmsearch  # noqa: E402

from folding.data.features import load_raw_npz  # noqa: E402

MAX_TEMPLATE_DATE = "2022-01-01"

# target -> (alignment folder, mmCIF folder, hit file, reference file renames)
CASES = {
    "A0A024R1R8": ("alignments/A0A024R1R8", "templates/pdb_mmcif/mmcif_files", "pdb_hits.hhr",
                   {}),
    "P61626": ("alignments/P61626", "templates/pdb_mmcif/mmcif_files", "pdb_hits.sto", {}),
    "openfold_short": ("alignments/openfold_short", "alignments/openfold_short_mmcifs",
                       "pdb70_hits.hhr", {"bfd_uniclust_hits.a3m": "bfd_uniref_hits.a3m"}),
}


class _ReplayedSearch:
    """A template searcher that returns a precomputed hit file (no tool is run)."""

    def __init__(self, hit_file: Path, mmcif_dir: Path) -> None:
        self.text = hit_file.read_text()
        self.is_hhr = hit_file.suffix == ".hhr"
        self.mmcif_dir = mmcif_dir

    @property
    def input_format(self) -> str:
        return "a3m" if self.is_hhr else "sto"

    @property
    def output_format(self) -> str:
        return "hhr" if self.is_hhr else "sto"

    def query(self, _msa: str) -> str:
        return self.text

    def get_template_hits(self, output_string: str, input_sequence: str):
        if self.is_hhr:
            hits = af_parsers.parse_hhr(output_string)
        else:
            hits = af_hmmsearch.Hmmsearch.get_template_hits(self, output_string, input_sequence)
        return [h for h in hits if (self.mmcif_dir / f"{h.name[:4].lower()}.cif").exists()]


def _deepmind_dedup(original):
    """``make_msa_features`` with DeepMind's deduplication applied before the fork's loop."""

    def make_msa_features(msas):
        seen: set[str] = set()
        kept = []
        for msa in msas:
            rows = [i for i, s in enumerate(msa.sequences) if not (s in seen or seen.add(s))]
            if rows:
                kept.append(af_parsers.Msa([msa.sequences[i] for i in rows],
                                           [msa.deletion_matrix[i] for i in rows],
                                           [msa.descriptions[i] for i in rows]))
        return original(kept)

    return make_msa_features


def _reference_features(shared: Path, target: str, tmp_path: Path, monkeypatch, dedup: bool):
    folder, mmcif, hits, renames = CASES[target]
    msa_dir = tmp_path / "ref_msas"
    shutil.copytree(shared / folder, msa_dir)
    for old, new in renames.items():
        shutil.copy(msa_dir / old, msa_dir / new)
    for path in msa_dir.iterdir():
        path.chmod(0o644)
    dummy_db = tmp_path / "db"
    (tmp_path / "db_a3m.ffdata").write_text("")
    dummy_db.write_text("")
    mmcif_dir = shared / mmcif
    obsolete = mmcif_dir.parent / "obsolete.dat"
    featurizer_class = (af_templates.HhsearchHitFeaturizer if hits.endswith(".hhr")
                        else af_templates.HmmsearchHitFeaturizer)
    featurizer = featurizer_class(
        mmcif_dir=str(mmcif_dir), max_template_date=MAX_TEMPLATE_DATE, max_hits=20,
        kalign_binary_path=shutil.which("kalign"), release_dates_path=None,
        obsolete_pdbs_path=str(obsolete) if obsolete.exists() else None,
    )
    pipeline = af_pipeline.DataPipeline(
        jackhmmer_binary_path="jackhmmer", hhblits_binary_path="hhblits",
        uniref90_database_path=str(dummy_db), mgnify_database_path=str(dummy_db),
        bfd_database_path=str(dummy_db), uniref30_database_path=str(dummy_db),
        small_bfd_database_path=None,
        template_searcher=_ReplayedSearch(msa_dir / hits, mmcif_dir),
        template_featurizer=featurizer, use_small_bfd=False, use_precomputed_msas=True,
    )
    if dedup:
        monkeypatch.setattr(af_pipeline, "make_msa_features",
                            _deepmind_dedup(af_pipeline.make_msa_features))
    try:
        return pipeline.process(str(shared / "queries" / f"{target}.fasta"), str(msa_dir))
    finally:
        monkeypatch.undo()


def _our_features(shared: Path, target: str, tmp_path: Path, venv_bin: Path) -> dict:
    folder, mmcif, _, _ = CASES[target]
    output = tmp_path / "RAW.npz"
    argv = [str(venv_bin / "folding"), "features", "--fasta",
            str(shared / "queries" / f"{target}.fasta"), "--msa-dir", str(shared / folder),
            "--template-mmcif-dir", str(shared / mmcif), "--max-template-date",
            MAX_TEMPLATE_DATE, "--output", str(output)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for line in done.stderr.splitlines():
        if "skipped (prefilter)" in line:  # only the date may filter a hit here
            assert "after the maximum template date" in line, line
    return load_raw_npz(output)


def _assert_same(ours: dict, ref: dict) -> None:
    assert sorted(ours) == sorted(ref)
    for key, expected in ref.items():
        got = ours[key]
        expected = np.asarray(expected)
        assert got.dtype == expected.dtype, (key, got.dtype, expected.dtype)
        assert got.shape == expected.shape, (key, got.shape, expected.shape)
        if expected.dtype == object:
            assert list(got) == list(expected), key
        elif np.issubdtype(expected.dtype, np.floating):
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=key)
        else:
            np.testing.assert_array_equal(got, expected, err_msg=key)


@pytest.mark.parametrize("target", sorted(CASES))
def test_raw_features_equal_reference_pipeline(shared_data, tmp_path, monkeypatch, venv_bin,
                                               target):
    ref = _reference_features(shared_data, target, tmp_path, monkeypatch, dedup=True)
    ours = _our_features(shared_data, target, tmp_path, venv_bin)
    _assert_same(ours, ref)
    # The cases cover what they are meant to: templates found (or honestly none).
    names = [n.decode() for n in ours["template_domain_names"]]
    if target == "P61626":
        assert len(names) == 20 and all(n[:4] in {
            "3lhm", "1i22", "133l", "1di3", "1i20", "1i1z", "1ckd", "1lhl", "1wqo", "3ln2",
            "1gfr", "1ubz", "1lhh", "1yan", "1gb5", "1wqn", "1tdy", "1cj6", "1gb7", "1gb8"}
            for n in names)
    elif target == "openfold_short":
        assert names == ["3u8v_A", "2crb_A", "4zey_A", "1psm_A", "3zee_A", "4i6p_A", "2q2k_A"]
    else:
        assert names == [] and ours["template_aatype"].shape == (0,)


def test_reference_fork_does_not_deduplicate(shared_data, tmp_path, monkeypatch):
    """The fork keeps duplicate rows: the dedup wrapper above changes its output."""
    raw = _reference_features(shared_data, "A0A024R1R8", tmp_path, monkeypatch, dedup=False)
    fixed = _reference_features(shared_data, "A0A024R1R8", tmp_path / "again", monkeypatch,
                                dedup=True)
    assert raw["msa"].shape[0] > fixed["msa"].shape[0]
    assert len({row.tobytes() for row in fixed["msa"]}) <= fixed["msa"].shape[0]


def test_features_pkl_and_raw_npz_are_interchangeable(shared_data, tmp_path, monkeypatch,
                                                      venv_bin):
    """AlphaFold's features.pkl and our RAW.npz load to the same keys, dtypes and values."""
    import pickle

    from folding.data.processing.raw import load_raw_features

    ref = _reference_features(shared_data, "openfold_short", tmp_path, monkeypatch, dedup=True)
    pkl = tmp_path / "features.pkl"
    pkl.write_bytes(pickle.dumps(ref, protocol=4))
    _our_features(shared_data, "openfold_short", tmp_path, venv_bin)
    from_pkl = load_raw_features(pkl)
    from_npz = load_raw_features(tmp_path / "RAW.npz")
    assert sorted(from_pkl) == sorted(from_npz)
    for key, value in from_pkl.items():
        other = from_npz[key]
        assert value.shape == other.shape, key
        if value.dtype == object:
            # Our .npz stores strings without pickle; load_raw_npz restores object arrays.
            assert [bytes(v) for v in other] == list(value), key
        else:
            assert value.dtype == other.dtype, key
            np.testing.assert_array_equal(value, other, err_msg=key)
    _assert_same(load_raw_npz(tmp_path / "RAW.npz"), ref)


def test_no_partial_output_when_the_alignment_belongs_to_another_target(
        shared_data, tmp_path, venv_bin):
    output = tmp_path / "RAW.npz"
    done = subprocess.run(
        [str(venv_bin / "folding"), "features", "--fasta",
         str(shared_data / "queries" / "P61626.fasta"), "--msa-dir",
         str(shared_data / "alignments" / "A0A024R1R8"), "--no-templates", "--output",
         str(output)], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "belongs to another target" in done.stderr
    assert not output.exists() and not list(tmp_path.iterdir())

