"""MSA parsers: small known answers, real AlphaFold/ColabFold files, parity with the reference."""

from __future__ import annotations

import numpy as np
import pytest

from folding.data.parsers import (
    Msa,
    deduplicate_stockholm,
    parse_a3m,
    parse_fasta,
    parse_stockholm,
    read_msa,
    remove_empty_columns,
    species_identifier,
    split_a3m_queries,
    stockholm_to_a3m,
    truncate_stockholm,
)
from folding.errors import InputError, MissingResourceError

# query columns are 0 (A), 1 (C), 4 (D), 5 (E) and 7 (F); 2, 3 and 6 are insert columns
STO = """# STOCKHOLM 1.0
#=GF ID query-i1
#=GS query DE the query
#=GS hit1/2-9 DE [subseq from] first hit
#=GS hit2/1-5 DE [subseq from] second hit

query      AC--DE-F
hit1/2-9   ACgkDEyF
hit2/1-5   -C---EwF
#=GR hit1/2-9 PP 88888888
#=GC RF    xx..xx.x
//
"""
ROWS = ("ACDEF", "ACDEF", "-C-EF")
DELETIONS = [[0, 0, 0, 0, 0], [0, 0, 2, 0, 1], [0, 0, 0, 0, 1]]


def test_stockholm_rows_and_deletions():
    msa = parse_stockholm(STO)
    assert msa.sequences == ROWS
    assert msa.descriptions == ("query", "hit1/2-9", "hit2/1-5")
    np.testing.assert_array_equal(msa.deletion_matrix, DELETIONS)
    assert msa.deletion_matrix.dtype == np.int32
    assert msa.num_res == 5 and len(msa) == 3 and msa.query == "ACDEF"
    with pytest.raises(ValueError):
        msa.deletion_matrix[0, 0] = 1  # read-only


def test_stockholm_interleaved_blocks_concatenate():
    text = "# STOCKHOLM 1.0\nq  AC-\nh  ACD\n#=GC RF xx.\n\nq  DE\nh  D-\n#=GC RF xx\n//\n"
    msa = parse_stockholm(text)
    assert msa.sequences == ("ACDE", "ACD-")
    np.testing.assert_array_equal(msa.deletion_matrix, [[0, 0, 0, 0], [0, 0, 1, 0]])


def test_stockholm_dot_is_a_gap():
    # text-mode Stockholm (hmmsearch -A) marks gaps in insert columns with '.'
    msa = parse_stockholm("q  AC..D\nh  ACk.D\n//\n")
    assert msa.sequences == ("ACD", "ACD")
    np.testing.assert_array_equal(msa.deletion_matrix, [[0, 0, 0], [0, 0, 1]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "x.sto: no aligned sequences found"),
        ("# STOCKHOLM 1.0\n//\n", "x.sto: no aligned sequences found"),
        ("q ACD extra\n", "x.sto line 1: expected '<name> <aligned sequence>'"),
        ("q ACD\nh AC\n", "x.sto: row 'h' is 2 columns long but the query row is 3"),
        ("q ACD\nh AÇD\n", "x.sto: non-ASCII character"),
    ],
)
def test_stockholm_malformed(text, message):
    with pytest.raises(InputError, match=message):
        parse_stockholm(text, source="x.sto")


def test_truncate_keeps_first_names_and_drops_other_markup(tmp_path):
    path = tmp_path / "a.sto"
    path.write_text(STO)
    text = truncate_stockholm(path, 2)
    assert "hit2" not in text and "#=GR" not in text and "#=GF" not in text
    assert "#=GC RF" in text and text.startswith("# STOCKHOLM 1.0") and text.endswith("//\n")
    assert parse_stockholm(text).descriptions == ("query", "hit1/2-9")
    assert truncate_stockholm(path, None) == STO


def test_stockholm_to_a3m_known_answer():
    a3m = stockholm_to_a3m(STO)
    assert a3m == (
        ">query the query\nACDEF\n"
        ">hit1/2-9 [subseq from] first hit\nACgkDEyF\n"
        ">hit2/1-5 [subseq from] second hit\n-C-EwF\n"
    )
    back = parse_a3m(a3m)
    assert back.sequences == ROWS
    np.testing.assert_array_equal(back.deletion_matrix, DELETIONS)
    assert stockholm_to_a3m(STO, max_sequences=1) == ">query the query\nACDEF\n"
    assert stockholm_to_a3m(STO, remove_first_row_gaps=False).splitlines()[1] == "AC--DE-F"


def test_deduplicate_and_remove_empty_columns():
    text = "q  AC-D\nh1 AC-D\nh2 ACkD\nh3 A--D\n#=GC RF xx.x\n//\n"
    dedup = deduplicate_stockholm(text)
    # h1 equals q; h2 equals q on the query's columns (its insertion does not count)
    assert dedup == "q  AC-D\nh3 A--D\n#=GC RF xx.x\n//\n"
    assert remove_empty_columns(dedup) == "q  ACD\nh3 A-D\n#=GC RF xxx\n//"


A3M = ">query\nACDEF\n>hit1 some description\nACgkDEyF\n>hit2\n-C-EwF\n"


def test_a3m_rows_and_deletions():
    msa = parse_a3m(A3M)
    assert msa.sequences == ROWS
    assert msa.descriptions == ("query", "hit1 some description", "hit2")
    np.testing.assert_array_equal(msa.deletion_matrix, DELETIONS)
    # trailing insertions are not counted; '.' is ignored; lines may wrap
    msa = parse_a3m(">q\nAC\n>h\nA.\nCxx\n")
    assert msa.sequences == ("AC", "AC")
    np.testing.assert_array_equal(msa.deletion_matrix, [[0, 0], [0, 0]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "x.a3m: no sequences found"),
        (">q\nACD\n>h bad row\nAC\n", "x.a3m: record 'h' has 2 aligned columns"),
        (">q\nACD\n>h\nAÇD\n", "x.a3m: non-ASCII character"),
        (">101\nAC\n\x00>102\nDE\n\x00", "x.a3m holds the alignments of 2 queries"),
    ],
)
def test_a3m_malformed(text, message):
    with pytest.raises(InputError, match=message):
        parse_a3m(text, source="x.a3m")


def test_colabfold_multi_query_file_splits():
    text = ">101\nACD\n>hit\nAkCD\n\x00>102\nEF\n>hit\nE-\n\x00"
    pieces = split_a3m_queries(text)
    assert len(pieces) == 2
    assert [parse_a3m(p).query for p in pieces] == ["ACD", "EF"]
    assert parse_a3m(">101\nACD\n\x00").sequences == ("ACD",)


def test_msa_checks_shapes():
    with pytest.raises(ValueError, match="one description and one deletion row"):
        Msa(("AC",), np.zeros((1, 2)), ())
    with pytest.raises(InputError, match="row 'b' has 1 aligned columns"):
        Msa(("AC", "A"), np.zeros((2, 2)), ("a", "b"))
    msa = Msa(("AC", "A-"), [[0, 0], [0, 3]], ("a", "b"))
    assert msa.truncate(1) == Msa(("AC",), [[0, 0]], ("a",))
    assert msa != msa.truncate(1)


def test_species_identifier():
    assert species_identifier("tr|A0A146SKV9|A0A146SKV9_FUNHE/12-80 desc") == "FUNHE"
    assert species_identifier("sp|P0C2L1|A3X1_LOXLA") == "LOXLA"
    assert species_identifier("tr|A0A146SKV9_1|A0A146SKV9_FUNHE_123") == "FUNHE"
    assert species_identifier("UniRef90_A0A240SWY4/1-69") == ""
    assert species_identifier("") == ""


def test_parse_fasta_like_alphafold():
    records = parse_fasta("junk\n>a desc\nAC\n\nDE\n>b\n>c\nK\n")
    assert [(r.name, r.description, r.sequence) for r in records] == [
        ("a", "a desc", "ACDE"), ("b", "b", ""), ("c", "c", "K")
    ]


def test_read_msa_by_suffix(tmp_path):
    (tmp_path / "x.sto").write_text(STO)
    (tmp_path / "x.a3m").write_text(A3M)
    assert read_msa(tmp_path / "x.sto") == read_msa(tmp_path / "x.a3m").__class__(
        ROWS, DELETIONS, ("query", "hit1/2-9", "hit2/1-5")
    )
    assert len(read_msa(tmp_path / "x.sto", max_sequences=2)) == 2
    assert len(read_msa(tmp_path / "x.a3m", max_sequences=1)) == 1
    (tmp_path / "x.txt").write_text(A3M)
    with pytest.raises(InputError, match="unknown alignment format"):
        read_msa(tmp_path / "x.txt")
    with pytest.raises(MissingResourceError, match="not found; run the MSA search first"):
        read_msa(tmp_path / "missing.sto")


def test_real_alphafold_outputs_parse(shared_data):
    msa = read_msa(shared_data / "alignments/P61626/uniref90_hits.sto", max_sequences=10_000)
    assert len(msa) == 3858 and msa.num_res == 148
    assert msa.query.startswith("MKALIVLGLVLLSVTVQGK")
    assert set("".join(msa.sequences)) <= set("ACDEFGHIKLMNPQRSTVWYXBZUO-")
    mgnify = read_msa(shared_data / "alignments/P61626/mgnify_hits.sto", max_sequences=501)
    assert mgnify.query == msa.query
    bfd = read_msa(shared_data / "alignments/P61626/bfd_uniref_hits.a3m")
    assert bfd.query == msa.query and len(bfd) == 1311
    colab = read_msa(shared_data / "alignments/P61626_colabfold/uniref.a3m")
    assert colab.query == msa.query and colab.descriptions[0] == "101"
    assert (colab.deletion_matrix >= 0).all() and colab.deletion_matrix.shape == (3922, 148)
    small = read_msa(shared_data / "alignments/P61626/uniref90_hits.sto", max_sequences=100)
    assert len(small) == 100 and small.sequences == msa.sequences[:100]


def _real_files(shared_data, suffix):
    return sorted((shared_data / "alignments").rglob(f"*.{suffix}"))


@pytest.mark.reference
def test_parity_with_reference_parsers(shared_data):
    """Every real .sto/.a3m parses exactly as the reference's parsers parse it."""
    af = pytest.importorskip("alphafold.data.parsers")
    checked = 0
    for path in _real_files(shared_data, "sto"):
        text = path.read_text()
        if path.name == "pdb_hits.sto":
            # hmmsearch text output uses '.' gaps, which AlphaFold never parses as an MSA;
            # it only converts it without touching the query's gaps (checked here).
            assert stockholm_to_a3m(text, remove_first_row_gaps=False) == (
                af.convert_stockholm_to_a3m(text, remove_first_row_gaps=False)
            )
            continue
        ours, theirs = parse_stockholm(text), af.parse_stockholm(text)
        assert ours.sequences == tuple(theirs.sequences), path
        assert ours.descriptions == tuple(theirs.descriptions), path
        np.testing.assert_array_equal(ours.deletion_matrix, np.array(theirs.deletion_matrix))
        for limit in (1, 7, 501):
            assert truncate_stockholm(path, limit) == af.truncate_stockholm_msa(str(path), limit)
        assert stockholm_to_a3m(text) == af.convert_stockholm_to_a3m(text), path
        assert stockholm_to_a3m(text, 5) == af.convert_stockholm_to_a3m(text, 5), path
        dedup = deduplicate_stockholm(text)
        assert dedup == af.deduplicate_stockholm_msa(text), path
        assert remove_empty_columns(dedup) == af.remove_empty_columns_from_stockholm_msa(dedup)
        checked += 1
    for path in _real_files(shared_data, "a3m"):
        text = path.read_text()
        ours, theirs = parse_a3m(text), af.parse_a3m(text.replace("\x00", ""))
        assert ours.sequences == tuple(theirs.sequences), path
        assert ours.descriptions == tuple(theirs.descriptions), path
        np.testing.assert_array_equal(ours.deletion_matrix, np.array(theirs.deletion_matrix))
        checked += 1
    assert checked >= 20


@pytest.mark.reference
def test_species_identifiers_match_reference(shared_data):
    ids = pytest.importorskip("alphafold.data.msa_identifiers")
    for path in (shared_data / "alignments/2q2k").rglob("uniprot_hits.sto"):
        for name in parse_stockholm(path.read_text()).descriptions:
            assert species_identifier(name) == ids.get_identifiers(name).species_id
    for description in parse_a3m((shared_data / "alignments/openfold_short/"
                                  "bfd_uniclust_hits.a3m").read_text()).descriptions:
        assert species_identifier(description) == ids.get_identifiers(description).species_id
