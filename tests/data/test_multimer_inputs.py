"""Complexes from FASTA: the ways users write them, and every refusal with its exact message."""

from __future__ import annotations

from pathlib import Path

import pytest

from folding.data.multimer.chains import MAX_CHAINS
from folding.data.multimer.inputs import read_complexes
from folding.errors import InputError
from folding.inputs import read_targets

PARR = "MGSSHHHHHHSSGLVPGSHMDKKETKHLLKIKKEDYPQIFDFLENVPRGTKTAHIREALRRYIEEIGENP"  # 2Q2K A/B
PARR_DNA = "AGTATAUACUAGTATATACT"  # 2Q2K chain F (nucleic acid), from pdb_seqres


def _write(tmp_path: Path, text: str, name: str = "in.fasta") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _chains(target) -> list[str]:
    return [c.sequence for c in target.chains]


def test_colabfold_style_record(tmp_path):
    path = _write(tmp_path, f">2q2k ParR dimer\n{PARR[:40]}\n{PARR[40]}:{PARR[:10].lower()}\n"
                  f"{PARR[10:]}\n>hetero\nMKVLAAG:\nGGSSAW\n>hetero2\nMKVLAAG\n:GGSSAW\n")
    targets = read_complexes(path).targets
    assert [t.name for t in targets] == ["2q2k", "hetero", "hetero2"]
    assert _chains(targets[0]) == [PARR[:41], PARR]
    # ':' may end or start a line
    assert _chains(targets[1]) == _chains(targets[2]) == ["MKVLAAG", "GGSSAW"]
    assert len(targets[0]) == 41 + len(PARR) and not targets[0].is_monomer
    assert targets[0].source == f"{path}:1" and targets[1].source == f"{path}:2"
    # Written back as one record with ':' (what 'folding multimer check -o' writes), it reads
    # back as the same target.
    again = read_complexes(_write(tmp_path, targets[0].to_fasta(), "again.fasta")).targets[0]
    assert _chains(again) == _chains(targets[0]) and again.description == "2q2k ParR dimer"


def test_consecutive_records_of_one_name_are_one_complex(shared_data):
    h1065 = read_complexes(shared_data / "queries" / "H1065.fasta").targets
    assert len(h1065) == 1 and h1065[0].name == "H1065"
    assert [len(c) for c in h1065[0].chains] == [127, 98]
    assert h1065[0].description.endswith("subunit 1, 127 residues;")
    # The monomer reader refuses the same file (one target per record, names unique).
    with pytest.raises(InputError, match="is named 'H1065' like record 1"):
        read_targets(shared_data / "queries" / "H1065.fasta")


def test_copies(tmp_path):
    path = _write(tmp_path, f">trimer copies=3 ParR\n{PARR}\n>a2b2 COPIES=2\nMKVLAAG:GGSSAW\n"
                  ">ab\nMKVLAAG\n>ab copies=2\nGGSSAW\n")
    trimer, a2b2, ab = read_complexes(path).targets
    assert _chains(trimer) == [PARR] * 3 and trimer.description == "trimer ParR"
    assert _chains(a2b2) == ["MKVLAAG", "GGSSAW", "MKVLAAG", "GGSSAW"]
    assert _chains(ab) == ["MKVLAAG", "GGSSAW", "GGSSAW"]
    # The copy number is spelled out in the written FASTA, not kept in the header.
    assert trimer.to_fasta() == f">trimer ParR\n{PARR}:{PARR}:{PARR}\n"


def test_one_complex_per_file(tmp_path, shared_data):
    path = _write(tmp_path, f">chain_A\n{PARR}\n>chain_B\n{PARR}\n>other\nMKVLAAG\n",
                  "my complex.fa")
    (target,) = read_complexes(path, one_complex_per_file=True).targets
    assert target.name == "my_complex" and _chains(target) == [PARR, PARR, "MKVLAAG"]
    # AlphaFold's multi_protein-style file, as one complex.
    (pair,) = read_complexes(shared_data / "queries" / "multi_protein.fasta",
                             one_complex_per_file=True).targets
    assert [len(c) for c in pair.chains] == [64, 148]


def test_monomers_read_as_the_monomer_reader_reads_them(shared_data):
    folder = shared_data / "queries"
    ours = read_complexes(folder, skip_invalid=True)
    theirs = read_targets(folder, skip_invalid=True)
    assert [t.name for t in ours.targets] == [t.name for t in theirs.targets]
    for target, theirs_target in zip(ours.targets, theirs.targets, strict=True):
        if target.name == "H1065":  # its second record: a chain here, a duplicate there
            assert target.chains[:1] == theirs_target.chains and len(target.chains) == 2
        else:
            assert target == theirs_target
    # Rejected alike, except H1065's second record.
    assert len(ours.rejected) == len(theirs.rejected) - 1


def _error(tmp_path: Path, text: str, **options) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as raised:
        read_complexes(path, **options)
    return str(raised.value).replace(str(path), "{f}")


@pytest.mark.parametrize(("text", "options", "message"), [
    (f">2q2k\n{PARR}:{PARR}:{PARR_DNA}\n", {},
     "{f}: record '2q2k' chain 3 looks like RNA (only A, C, G, U, N); this pipeline predicts "
     "protein chains: remove the nucleic-acid chain"),
    (f">2q2k\n{PARR}\n>2q2k\nGATTACAGATTACA\n", {},
     "{f}: record '2q2k' chain 2 looks like DNA (only A, C, G, T, N); this pipeline predicts "
     "protein chains: remove the nucleic-acid chain"),
    (">dna\nGATTACAGATTACA\n", {},
     "{f}: record 'dna' looks like DNA (only A, C, G, T, N); this pipeline predicts proteins: "
     "give the protein sequence"),
    (f">big\n{PARR}:{PARR}\n", {"max_length": 100},
     "{f}: target 'big' has 140 residues in 2 chains, more than the maximum 100; predict a "
     "smaller sub-complex or raise --max-length"),
    (f">big copies=2\n{PARR}\n", {"max_length": 139},
     "{f}: target 'big' has 140 residues in 2 chains, more than the maximum 139; predict a "
     "smaller sub-complex or raise --max-length"),
    (f">long\nMKV:{PARR}\n", {"max_length": 60},
     "{f}: record 'long' chain 2 is 70 residues long, more than the maximum 60; split it into "
     "domains or raise --max-length"),
    (">many copies=32\nMKVLAAG:GGSSAW\n", {},
     f"{{f}}: target 'many' has 64 chains, more than the {MAX_CHAINS} the multimer model "
     "supports (one PDB chain id each); predict it as smaller sub-complexes"),
    (">tri copies=3\nMKVLAAG\n", {"max_chains": 2},
     "{f}: target 'tri' has 3 chains, more than the 2 allowed (--max-chains); predict it as "
     "smaller sub-complexes"),
    (">x copies=63\nMKVLAAG\n", {},
     "{f}: record 'x' has copies=63; give a whole number from 1 to 62"),
    (">x copies=two\nMKVLAAG\n", {},
     "{f}: record 'x' has copies=two; give a whole number from 1 to 62"),
    (">x copies=2 copies=3\nMKVLAAG\n", {},
     "{f}: record 'x' gives copies= 2 times; give it once"),
    (">x\nMKVLAAG::GGS\n", {},
     "{f}: record 'x' chain 2 is empty; remove the extra ':' or add the chain's sequence"),
    (">x\nMKVLAAG:\n", {},
     "{f}: record 'x' chain 2 is empty; remove the extra ':' or add the chain's sequence"),
    (">x\n:\n", {},
     "{f}: record 'x' has an empty sequence; add its sequence or remove the record"),
    (">x\nMKVLA:GG\nSS1A\n", {},
     "{f}: record 'x' chain 2: invalid character '1' at residue 5 (line 3, column 3); remove "
     "the numbers (residue counts from a GenBank-style listing)"),
    (">x\nMKVLA:GGS*\n", {},
     "{f}: record 'x' chain 2: invalid character '*' at residue 4 (line 2, column 10); "
     "remove the trailing '*' (a stop codon)"),
    (">x\nXXXX:MKV\n", {},
     "{f}: record 'x' chain 1 has only unknown residues (X); give the real sequence"),
    (">a\nMKV\n>b\nGGS\n>A\nWWW\n", {},
     "{f}: record 3 is named 'A' like record 1, with other records between; list a complex's "
     "chains one after another, and give other targets their own names"),
])
def test_bad_complexes(tmp_path, text, options, message):
    assert _error(tmp_path, text, **options) == message


def test_bad_limits(tmp_path):
    path = _write(tmp_path, ">x\nMKV\n")
    with pytest.raises(InputError, match="--max-chains must be from 1 to 62, not 63"):
        read_complexes(path, max_chains=63)
    with pytest.raises(InputError, match="--max-length must be a positive number"):
        read_complexes(path, max_length=0)


def test_skip_invalid_keeps_good_complexes(tmp_path):
    path = _write(tmp_path, f">good\n{PARR}:MKVLAAG\n>bad\n{PARR}:{PARR_DNA}\n>also\nMKV\n")
    checked = read_complexes(path, skip_invalid=True)
    assert [t.name for t in checked.targets] == ["good", "also"]
    assert [r.source for r in checked.rejected] == [f"{path}:2"]
    # Names are unique across files, complexes included.
    first = _write(tmp_path, ">good\nMKV:GGS\n", "first.fasta")
    other = _write(tmp_path, ">GOOD\nMKV\n", "other.fasta")
    with pytest.raises(InputError, match=f"named 'GOOD' like record 1 of {first}"):
        read_complexes([first, other])


def test_rare_letter_warnings_name_the_chain(tmp_path):
    path = _write(tmp_path, ">x\nMKV:MKUV\n")
    (target,) = read_complexes(path).targets
    assert _chains(target) == ["MKV", "MKUV"]
    assert target.warnings[0].startswith("chain 2: 1 x U (selenocysteine), first at residue 3")
