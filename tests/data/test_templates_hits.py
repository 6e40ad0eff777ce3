"""Template hits: hhsearch .hhr and hmmsearch Stockholm files read as AlphaFold reads them."""

from __future__ import annotations

import dataclasses

import pytest

from folding.data.parsers.fasta import parse_fasta
from folding.data.templates.hits import (
    TemplateHit,
    parse_hhr,
    parse_hmmsearch_a3m,
    parse_hmmsearch_sto,
    query_to_hit_mapping,
)
from folding.errors import InputError

HHR_FILES = {"openfold_short": "openfold_short/pdb70_hits.hhr",
             "A0A024R1R8": "A0A024R1R8/pdb_hits.hhr"}
STO_FILES = {"P61626": "P61626/pdb_hits.sto", "A0A024R1R8": "A0A024R1R8/pdb_hits.sto"}


def _query(shared, name):
    return parse_fasta((shared / "queries" / f"{name}.fasta").read_text())[0].sequence


def _same(ours: TemplateHit, ref) -> None:
    expected = dataclasses.asdict(ref)
    got = dataclasses.asdict(ours)
    for key, value in expected.items():
        assert got[key] == (tuple(value) if isinstance(value, list) else value), key


def test_hhr_known_answer(shared_data):
    hits = parse_hhr((shared_data / "alignments" / HHR_FILES["openfold_short"]).read_text())
    assert [h.index for h in hits] == list(range(1, 11))
    first = hits[0]
    assert first.name.startswith("1HF9_B ATPASE INHIBITOR")
    assert first.pdb_id_and_chain == ("1hf9", "B")
    assert (first.aligned_cols, first.sum_probs) == (22, 13.1)
    assert first.query == "AEHHHKAAEHHEQAAKHHHAAA"
    assert first.hit_sequence == "ISHHAKEIERLQKEIERHKQSI"
    assert first.indices_query == tuple(range(6, 28)) and first.indices_hit == tuple(range(9, 31))
    query = _query(shared_data, "openfold_short")
    assert query_to_hit_mapping(first, query) == {6 + i: i for i in range(22)}


def test_hmmsearch_known_answer(shared_data):
    query = _query(shared_data, "P61626")
    hits = parse_hmmsearch_sto((shared_data / "alignments" / STO_FILES["P61626"]).read_text(),
                               query)
    assert len(hits) == 1855
    first = hits[0]
    assert first.name == "1c7p_A" and first.sum_probs is None and first.query == query
    assert first.indices_query == tuple(range(len(query)))
    assert len(first.indices_hit) == len(query)  # one per HMM match state = query residue
    assert first.hit_sequence.replace("-", "").isupper()


@pytest.mark.reference
@pytest.mark.parametrize("name", sorted(HHR_FILES))
def test_hhr_equals_reference(shared_data, name):
    af_parsers = pytest.importorskip("alphafold.data.parsers")
    from alphafold.data import templates as af_templates

    text = (shared_data / "alignments" / HHR_FILES[name]).read_text()
    query = _query(shared_data, name)
    ref, ours = af_parsers.parse_hhr(text), parse_hhr(text)
    assert len(ours) == len(ref) == 10
    for mine, theirs in zip(ours, ref, strict=True):
        _same(mine, theirs)
        assert query_to_hit_mapping(mine, query) == af_templates._build_query_to_hit_index_mapping(
            theirs.query, theirs.hit_sequence, theirs.indices_hit, theirs.indices_query, query)


@pytest.mark.reference
@pytest.mark.parametrize("name", sorted(STO_FILES))
def test_hmmsearch_sto_equals_reference(shared_data, name):
    af_hmmsearch = pytest.importorskip("alphafold.data.tools.hmmsearch")
    from alphafold.data import parsers as af_parsers
    from alphafold.data import templates as af_templates

    text = (shared_data / "alignments" / STO_FILES[name]).read_text()
    query = _query(shared_data, name)
    ref = af_hmmsearch.Hmmsearch.get_template_hits(None, text, query)
    ours = parse_hmmsearch_sto(text, query)
    assert len(ours) == len(ref) > 100
    for mine, theirs in zip(ours, ref, strict=True):
        _same(mine, theirs)
    for mine, theirs in zip(ours[:200], ref[:200], strict=True):
        assert query_to_hit_mapping(mine, query) == af_templates._build_query_to_hit_index_mapping(
            theirs.query, theirs.hit_sequence, theirs.indices_hit, theirs.indices_query, query)
    a3m = af_parsers.convert_stockholm_to_a3m(text, remove_first_row_gaps=False)
    assert parse_hmmsearch_a3m(a3m, query, skip_first=False) == ours


def test_non_protein_rows_are_left_out_but_counted():
    a3m = (">1abc_A/1-12 mol:protein length:12  ONE\nACDEFGHIKLMN\n"
           ">1abc_B/1-12 mol:na length:12  DNA\nACGTACGTACGT\n"
           ">2xyz_C/3-14 mol:protein length:20  TWO\nAC-EFghGHIKLM\n")
    hits = parse_hmmsearch_a3m(a3m, "ACDEFGHIKLMN", skip_first=False)
    assert [(h.index, h.name) for h in hits] == [(1, "1abc_A"), (3, "2xyz_C")]
    second = hits[1]
    assert second.aligned_cols == 10 and second.hit_sequence == "AC-EFGHGHIKLM"
    # start 3 -> index 2; lower-case insertions advance the template index only
    assert second.indices_hit == (2, 3, -1, 4, 5, 8, 9, 10, 11, 12, 13)


def test_malformed_files_fail_clearly():
    with pytest.raises(InputError, match="cannot read hit section"):
        parse_hhr("No 1\n>1abc_A x\nProbab=1 Sum_probs=2 Aligned_cols=3\nQ q 1 AC 3 (9)\n")
    with pytest.raises(InputError, match="pdb_seqres"):
        parse_hmmsearch_a3m(">weird mol:protein\nACDE\n", "ACDE", skip_first=False)
    assert parse_hhr("") == [] and parse_hmmsearch_sto("", "ACDE") == []
    hit = TemplateHit(1, "no-pdb-name", 3, 1.0, "ACD", "ACD", (0, 1, 2), (0, 1, 2))
    with pytest.raises(ValueError, match="PDBID_chain"):
        _ = hit.pdb_id_and_chain
