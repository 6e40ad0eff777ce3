"""Complexes in the workflow, before any job runs: bad complexes stop the run with one
clear line and nothing written; the plan searches each distinct chain once (shared with
monomers through the cache), UniProt only for heteromers, hmmsearch templates per chain;
one prediction job per multimer model and seed; multimer recycling left to the model."""

from __future__ import annotations

import pytest

from folding.data.multimer.inputs import read_complexes
from folding.workflow.plan import make_plan
from folding.workflow.preflight import preflight

PARR = "MGSSHHHHHHSSGLVPGSHMDKKETKHLLKIKKEDYPQIFDFLENVPRGTKTAHIREALRRYIEEIGENP"  # 2Q2K A/B
PARR_RNA = "AGTATAUACUAGTATATACT"  # 2Q2K chain F (nucleic acid), from pdb_seqres



@pytest.fixture
def mixed(tmp_path, tiny_sequences):
    """A monomer, a homodimer of it (copies=2) and a heteromer with it (two records)."""
    pqqa, derm = tiny_sequences["pqqa"], tiny_sequences["dermaseptin"]
    path = tmp_path / "in" / "mixed.fasta"
    path.parent.mkdir()
    path.write_text(f">pqqa\n{pqqa}\n>dimer copies=2\n{pqqa}\n>hetero\n{pqqa}\n>hetero\n{derm}\n")
    return path


def test_the_plan_searches_each_distinct_chain_once(mixed, demo_db, tmp_path, settings_for):
    targets = read_complexes(mixed).targets
    plan = make_plan(settings_for(input=str(mixed), preset="demo", database_dir=str(demo_db)),
                     targets)
    pqqa, dimer, hetero = plan.targets
    assert not pqqa.is_complex and dimer.is_complex and not dimer.is_heteromer
    assert hetero.is_heteromer and dimer.chains == (pqqa.sequence,) * 2
    # The homodimer has one distinct chain, searched exactly as the monomer is.
    (chain,) = dimer.chain_jobs
    assert chain.chain_id == "A" and dict(chain.search_keys) == dict(pqqa.search_keys)
    assert chain.template_key == pqqa.template_key  # demo: hmmsearch on PDB seqres for both
    assert dimer.chain_msa_dirs() == ("A", "A") and hetero.chain_msa_dirs() == ("A", "B")
    # The heteromer's chains add the UniProt search for pairing (at most 50,000 hits).
    first, second = hetero.chain_jobs
    assert set(first.search_keys) == {"uniref90", "mgnify", "small_bfd", "uniprot"}
    assert {k: v for k, v in first.search_keys.items() if k != "uniprot"} == \
        dict(pqqa.search_keys)
    assert plan.pairing.settings["max_hits"] == 50_000 and plan.pairing.tool == "jackhmmer"
    assert plan.sequences() == {pqqa.sequence_hash: pqqa.sequence,
                                second.sequence_hash: second.sequence}
    assert plan.chain_sharing(hetero, first) == ("pqqa", "dimer")
    assert plan.chain_msa_files(hetero)[-2:] == ("uniprot_hits.sto", "pdb_hits.sto")
    assert "uniprot_hits.sto" not in plan.chain_msa_files(dimer)
    # Predictions: the demo's one multimer model once; AlphaFold 2.3's five x five.
    assert plan.predictions(pqqa) == ("model_1_ptm",)
    assert plan.predictions(dimer) == ("model_1_multimer_v3_pred_0",)
    full = make_plan(settings_for(input="x", preset="full_dbs", database_dir=str(tmp_path)),
                     targets)
    assert len(full.predictions(dimer)) == 25
    assert full.predictions(dimer)[:2] == ("model_1_multimer_v3_pred_0",
                                           "model_1_multimer_v3_pred_1")
    # full_dbs: monomers search PDB70 with HHsearch, complexes' chains PDB seqres.
    assert full.template.tool == "hhsearch" and full.multimer_template.tool == "hmmsearch"
    assert full.multimer_template.database == tmp_path / "pdb_seqres" / "pdb_seqres.txt"
    assert full.targets[1].chain_jobs[0].template_key != full.targets[0].template_key
    # Without heteromers there is no UniProt search; without complexes no multimer step.
    assert make_plan(plan.settings, targets[:2]).pairing is None
    assert make_plan(plan.settings, targets[:1]).multimer_template is None


def test_preflight_names_what_complexes_need(mixed, tmp_path, settings_for):
    targets = read_complexes(mixed).targets
    complexes_only = make_plan(settings_for(input="x", preset="full_dbs",
                                         database_dir=str(tmp_path)), targets[1:])
    check = preflight(complexes_only)
    assert not check.ok
    databases, params = check.errors
    assert "--only uniref90,mgnify,bfd,uniref30,uniprot,pdb_seqres,pdb_mmcif" in databases
    assert "pdb70" not in databases  # only monomers search PDB70
    assert params.startswith(f"params_dir {tmp_path}/params lacks "
                             + ", ".join(f"params_model_{i}_multimer_v3.npz"
                                         for i in range(1, 6)) + "; run: folding databases")
    untrained = preflight(make_plan(settings_for(input="x", preset="full_dbs",
                                              database_dir=str(tmp_path),
                                              allow_untrained_params="true"), targets))
    assert untrained.untrained("model_2_multimer_v3_pred_4")
    assert untrained.params_of("model_2_multimer_v3_pred_4") is None
    server = preflight(make_plan(settings_for(input="x", preset="demo", msa_mode="server",
                                           database_dir=str(tmp_path)), targets))
    assert ("complexes (dimer, hetero) need msa_mode=local (per-chain searches and UniProt "
            "pairing); msa_mode server runs single chains only: use msa_mode=local, or give "
            "the chains as separate records") in server.errors


def _config(inputs, tmp_path, demo_db, **extra):
    return {"input": inputs, "output_dir": tmp_path / "out", "preset": "demo",
            "database_dir": demo_db, **extra}


@pytest.mark.parametrize(("text", "extra", "message"), [
    (f">big\n{PARR}:{PARR}\n", {"max_length": 100},
     "target 'big' has 140 residues in 2 chains, more than the maximum 100; predict a "
     "smaller sub-complex or raise --max-length"),
    (f">parr_dna\n{PARR}:{PARR}:{PARR_RNA}\n", {},
     "record 'parr_dna' chain 3 looks like RNA (only A, C, G, U, N); this pipeline predicts "
     "protein chains: remove the nucleic-acid chain"),
    (">many copies=63\nMKVLAAGIVALLLAAG\n", {},
     "record 'many' has copies=63; give a whole number from 1 to 62"),
    (">many copies=32\nMKVLAAG:GGSSAWL\n", {},
     "target 'many' has 64 chains, more than the 62 the multimer model supports (one PDB "
     "chain id each); predict it as smaller sub-complexes"),
])
def test_bad_complexes_stop_the_run_before_any_search(run_workflow, tmp_path, demo_db, text,
                                                      extra, message):
    inputs = tmp_path / "in" / "bad.fasta"
    inputs.parent.mkdir()
    inputs.write_text(text)
    run = run_workflow(config=_config(inputs, tmp_path, demo_db, **extra))  # not a dry run
    assert run.returncode == 2, run.output
    errors = [line for line in run.stderr.splitlines() if line.startswith("folding: error:")]
    assert errors == [f"folding: error: {inputs}: {message}"]
    assert not (tmp_path / "out").exists()  # no search, no cache, no target folder


def test_complexes_need_local_msas(run_workflow, mixed, tmp_path, demo_db):
    run = run_workflow("-n", config=_config(mixed, tmp_path, demo_db, msa_mode="precomputed",
                                            precomputed_msa_dir=tmp_path))
    assert run.returncode == 3, run.output
    assert "folding: error: complexes (dimer, hetero) need msa_mode=local" in run.stderr


def test_dry_run_jobs_predictions_and_recycling(run_workflow, mixed, tmp_path, demo_db):
    run = run_workflow("-n", config=_config(mixed, tmp_path, demo_db))
    assert run.returncode == 0, run.output
    # pqqa (monomer, both copies of the dimer, chain A of the heteromer) is searched once
    # per database, the heteromer's other chain too, and both search UniProt.
    assert run.jobs["msa_jackhmmer"] == 2 * 3 + 2 and run.jobs["template_search"] == 2
    assert run.jobs["query_fasta"] == 2 and run.jobs["target_fasta"] == 3
    assert run.jobs["features"] == run.jobs["msas"] == 1
    assert run.jobs["multimer_features"] == run.jobs["complex_msas"] == 2
    assert run.jobs["predict"] == 3
    # Two models x three seeds per complex: one job each.
    more = run_workflow("-n", config=_config(
        mixed, tmp_path, demo_db, num_predictions_per_model=3,
        multimer_models="[model_1_multimer_v3,model_3_multimer_v3]"))
    assert more.returncode == 0, more.output
    assert more.jobs["predict"] == 1 + 2 * 6
    assert "predict_model_3_multimer_v3_pred_2.json" in more.stdout
    # reduced_dbs (the demo tree holds its databases and UniProt): monomers recycle 3
    # times, multimers as the model decides (no --num-recycle: up to 20, early stop).
    shells = run_workflow("-n", "-p", config=_config(
        mixed, tmp_path, demo_db, preset="reduced_dbs", allow_untrained_params="true"))
    assert shells.returncode == 0, shells.output
    commands = [line for line in shells.stdout.splitlines() if "folding model run" in line]
    monomer = [c for c in commands if "_ptm --" in c and "multimer" not in c]
    multimer = [c for c in commands if "_multimer_v3_pred_" in c]
    assert len(monomer) == 5 and len(multimer) == 2 * 25
    assert all("--num-recycle 3 " in c for c in monomer)
    assert not any("--num-recycle" in c for c in multimer)
    assert all("--untrained-params --seed 0" in c for c in multimer)
    # The user's num_recycle and dtype apply to both.
    fixed = run_workflow("-n", "-p", config=_config(mixed, tmp_path, demo_db, num_recycle=2,
                                                    model_dtype="bfloat16",
                                                    attention="pallas"))
    assert fixed.returncode == 0
    runs = [line for line in fixed.stdout.splitlines() if "folding model run" in line]
    assert runs and all("--num-recycle 2 " in line for line in runs)
    assert all("--dtype bfloat16 --attention pallas" in line for line in runs)
    assert all("--dtype auto --attention auto" in c for c in monomer)
