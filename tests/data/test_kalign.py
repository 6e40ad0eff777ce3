"""Kalign and template realignment: the hit's sequence differs from the mmCIF chain.

Realignment happens when the sequence a search reports for a template is not a stretch of
the chain's SEQRES in the mmCIF file (PDB70/pdb_seqres built from another version of the
entry). The real hit files in the shared data never need it, so the hits here are real
chains with edits: a few substitutions (realigned, kept), an insertion of four residues
(realigned; the query residues facing the insertion get AlphaFold's index -1, i.e. the
chain's last residue, kept for parity), and hen lysozyme against a human lysozyme chain
(less than 90 % identical: skipped).
"""

from __future__ import annotations

import datetime
import shutil

import numpy as np
import pytest

from folding.data.templates.database import TemplateDatabase
from folding.data.templates.featurise import (
    TemplateFeaturiser,
)
from folding.data.templates.hits import TemplateHit
from folding.data.templates.mmcif import read_mmcif
from folding.data.tools.kalign import MIN_LENGTH, Kalign
from folding.errors import MissingResourceError

TEMPLATE_DIR = "templates/pdb_mmcif/mmcif_files"


@pytest.fixture(scope="module")
def kalign() -> Kalign:
    try:
        return Kalign.locate()
    except MissingResourceError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def lysozymes(shared_data):
    human = read_mmcif(shared_data / TEMPLATE_DIR / "1lhl.cif").chains["A"].sequence
    hen = read_mmcif(shared_data / TEMPLATE_DIR / "1aki.cif").chains["A"].sequence
    return human, hen


def test_alignment_keeps_order_and_residues(kalign, lysozymes):
    human, hen = lysozymes
    aligned = kalign.align([human[10:100], hen])
    assert len(aligned) == 2 and len(aligned[0]) == len(aligned[1])
    assert aligned[0].replace("-", "") == human[10:100] and aligned[1].replace("-", "") == hen
    same = sum(a == b != "-" for a, b in zip(*aligned, strict=True))
    assert 0.5 < same / 90 < 0.8  # hen and human lysozyme: about 60 % identical


def test_short_sequences_and_missing_program(kalign, tmp_path):
    with pytest.raises(ValueError, match=f"at least {MIN_LENGTH}"):
        kalign.align(["ACDEF", "ACDEFGHIK"])
    with pytest.raises(MissingResourceError, match="kalign"):
        Kalign.locate(tmp_path / "kalign")


def _hit(query: str, start: int, template: str, template_start: int) -> TemplateHit:
    """An ungapped hhsearch-style hit: query[start:] aligned column by column to template."""
    length = len(template)
    return TemplateHit(
        index=1, name="1lhl_A lysozyme (edited)", aligned_cols=length, sum_probs=99.0,
        query=query[start:start + length], hit_sequence=template,
        indices_query=tuple(range(start, start + length)),
        indices_hit=tuple(range(template_start, template_start + length)))


def _edits(human: str) -> dict[str, str]:
    substituted = list(human[:120])
    for i in (5, 40, 77, 101):
        substituted[i] = "W" if substituted[i] != "W" else "A"
    inserted = human[:60] + "WWWW" + human[60:116]
    return {"substituted": "".join(substituted), "inserted": inserted}


@pytest.mark.reference
@pytest.mark.parametrize("edit", ["substituted", "inserted"])
def test_realignment_equals_reference(shared_data, kalign, lysozymes, edit):
    af_templates = pytest.importorskip("alphafold.data.templates")
    from alphafold.data import parsers as af_parsers

    human, _ = lysozymes
    query = "MKALIVLGLVLLSVTVQG" + human  # P61626's signal peptide + the mature chain
    template = _edits(human)[edit]
    hit = _hit(query, 18, template, 0)
    mmcif = shared_data / TEMPLATE_DIR
    ours = TemplateFeaturiser(TemplateDatabase.open(mmcif), datetime.date(2022, 1, 1),
                              kalign).featurise(query, [hit])
    assert ours.domain_names == ("1lhl_A",) and not ours.skipped
    ref_hit = af_parsers.TemplateHit(
        index=hit.index, name=hit.name, aligned_cols=hit.aligned_cols, sum_probs=hit.sum_probs,
        query=hit.query, hit_sequence=hit.hit_sequence, indices_query=list(hit.indices_query),
        indices_hit=list(hit.indices_hit))
    ref = af_templates.HhsearchHitFeaturizer(
        mmcif_dir=str(mmcif), max_template_date="2022-01-01", max_hits=20,
        kalign_binary_path=shutil.which("kalign"), release_dates_path=None,
        obsolete_pdbs_path=None).get_templates(query, [ref_hit])
    assert not ref.errors and ref.warnings and "Realigning" in ref.warnings[0]
    raw = ours.raw_features()
    for key, expected in ref.features.items():
        if expected.dtype == object:
            assert list(raw[key]) == list(expected), key
        else:
            np.testing.assert_allclose(raw[key], expected, rtol=0, atol=1e-6, err_msg=key)
    sequence = ours.sequences[0]
    if edit == "substituted":  # realigned onto the real chain: its residues, not the hit's
        assert sequence[18:] == human[:120] + "-" * (len(human) - 120)
    else:  # query residues facing the insertion read the chain's last residue
        assert sequence[18 + 60:18 + 64] == human[-1] * 4


def test_too_different_chain_is_skipped(shared_data, kalign, lysozymes):
    human, hen = lysozymes
    query = "MKALIVLGLVLLSVTVQG" + human
    hit = _hit(query, 18, hen[:129], 0)  # hen lysozyme presented as 1lhl_A
    ours = TemplateFeaturiser(TemplateDatabase.open(shared_data / TEMPLATE_DIR),
                              datetime.date(2022, 1, 1), kalign).featurise(query, [hit])
    assert len(ours) == 0
    (skipped,) = ours.skipped
    assert skipped.kind == "error" and "identical to 1lhl_A" in skipped.reason
