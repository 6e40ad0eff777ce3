"""``build-demo --from public`` against loopback stand-ins for UniProt, RCSB and the wwPDB.

The loopback server answers the exact URLs the recipe of databases/demo.yaml asks for,
under the public services' layouts (``/uniprotkb/search?...``, ``/download/<id>.cif.gz``,
``/pub/pdb/derived_data/pdb_seqres.txt``, ``/pub/pdb/data/status/obsolete.dat``), with
real files from the data folder; the built tree must pass ``check`` and serve a real
jackhmmer and template search.
"""

from __future__ import annotations

from folding.cli import main
from folding.databases.public import PublicSources, _filter_seqres, load_recipe


def _cli_sources(sources: PublicSources) -> list[str]:
    return ["--uniprot-url", sources.uniprot, "--rcsb-url", sources.rcsb,
            "--wwpdb-url", sources.wwpdb]


def test_public_build_is_checked_and_searchable(tmp_path, public_mirror, shared_data, capsys):
    server, sources = public_mirror
    root = tmp_path / "demo"
    assert main(["databases", "build-demo", "--dir", str(root), "--from", "public",
                 "--jobs", "2", *_cli_sources(sources)]) == 0
    out = capsys.readouterr().out
    assert "pdb_mmcif: pdb_mmcif/mmcif_files/ (61 entries" in out
    assert "pdb_seqres: pdb_seqres/pdb_seqres.txt (141 entries" in out
    assert {status for _, _, status in server.log} == {200}
    assert len(server.log) == len(load_recipe().queries) + 2 + 61
    assert not (root / ".folding" / "public").exists()  # the download cache is cleared
    assert main(["databases", "check", "--preset", "demo", "--dir", str(root), "--deep"]) == 0
    uniref = (root / "uniref90" / "uniref90.fasta").read_text()
    assert ">UniRef90_A0A240SWY4/1-69\n" in uniref  # a real lysozyme homolog of P61626
    for name in ("mgnify/mgy_clusters_2022_05.fa", "small_bfd/"
                 "bfd-first_non_consensus_sequences.fasta", "uniprot/uniprot.fasta"):
        assert (root / name).stat().st_size > 1000

    # The built tree serves the demo's searches: jackhmmer finds lysozyme's homologs, and
    # hmmsearch of that MSA against the seqres finds lysozyme structures whose mmCIF is there.
    msas = tmp_path / "msas"
    query = shared_data / "queries" / "P61626.fasta"
    assert main(["search", "--tool", "jackhmmer", "--query", str(query), "--database",
                 str(root / "uniref90" / "uniref90.fasta"), "--db-name", "uniref90",
                 "--output-dir", str(msas), "--threads", "2"]) == 0
    sto = (msas / "uniref90_hits.sto").read_text()
    assert sum(1 for line in sto.splitlines() if line.startswith("#=GS")) > 100
    hits = tmp_path / "pdb_hits.sto"
    assert main(["templates", "search", "--msa", str(msas / "uniref90_hits.sto"), "--tool",
                 "hmmsearch", "--database", str(root / "pdb_seqres" / "pdb_seqres.txt"),
                 "--output", str(hits), "--cpus", "2"]) == 0
    from folding.databases.fetch import hit_pdb_ids

    found = hit_pdb_ids([hits])
    assert len(found) > 5
    assert all((root / "pdb_mmcif" / "mmcif_files" / f"{i}.cif").is_file() for i in found)

    # A second build fetches the sequence sets again but not the mmCIF files it has.
    before = len(server.log)
    assert main(["databases", "build-demo", "--dir", str(root), "--from", "public",
                 *_cli_sources(sources)]) == 0
    assert len(server.log) - before == len(load_recipe().queries) + 2


def test_public_build_offline_fails_in_one_line_without_partial_files(tmp_path, capsys):
    root = tmp_path / "demo"
    dead = "http://127.0.0.1:9"
    code = main(["databases", "build-demo", "--dir", str(root), "--from", "public",
                 "--retries", "0", "--timeout", "2", "--uniprot-url", dead, "--rcsb-url", dead,
                 "--wwpdb-url", dead])
    assert code == 3
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("folding")]
    assert len(lines) == 1
    assert "check the internet connection" in lines[0]
    assert f"build-demo --dir {root} --from public" in lines[0]
    assert not (root / "uniref90" / "uniref90.fasta").exists()


def test_seqres_is_filtered_to_the_recipe_entries(tmp_path, shared_data):
    source = shared_data / "templates" / "pdb_seqres" / "pdb_seqres.txt"
    target = tmp_path / "pdb_seqres.txt"
    assert _filter_seqres(source, target, {"133l", "2q2k"}) == sum(
        1 for line in source.read_text().splitlines() if line[1:5] in ("133l", "2q2k"))
    lines = target.read_text().splitlines()
    assert {line[1:5] for line in lines if line.startswith(">")} == {"133l", "2q2k"}
    assert len(lines) % 2 == 0


def test_public_build_refuses_an_empty_database(tmp_path, public_mirror, capsys):
    server, sources = public_mirror
    for query in load_recipe().queries:
        if query.database == "mgnify":
            url = sources.uniprot_query(query.query, query.limit)
            server.serve(url[len(server.base):], b"")
    root = tmp_path / "demo"
    assert main(["databases", "build-demo", "--dir", str(root), "--from", "public",
                 *_cli_sources(sources)]) == 3
    assert "UniProt returned no sequences for mgnify" in capsys.readouterr().err
    assert not (root / "mgnify" / "mgy_clusters_2022_05.fa").exists()
