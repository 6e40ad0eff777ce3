"""Errors before any job starts: config keys and values, inputs, databases, parameters."""

from __future__ import annotations

import pytest

from folding.databases.manifest import load_preset


@pytest.fixture
def inputs(tmp_path, fasta_writer, tiny_sequences):
    return fasta_writer(tmp_path / "in" / "targets.fasta",
                        {"pqqa": tiny_sequences["pqqa"]})


def _demo_config(inputs, tmp_path, demo_db, **extra):
    return {"input": inputs, "output_dir": tmp_path / "out", "preset": "demo",
            "database_dir": demo_db, **extra}


@pytest.mark.parametrize(("extra", "expected"), [
    ({"recycles": 3},
     "folding: error: unknown config key 'recycles' (known keys: allow_untrained_params,"),
    ({"preset": "tiny"}, "config 'preset': 'tiny' is not one of ['full_dbs', 'reduced_dbs', "
                         "'demo']; choose one of full_dbs, reduced_dbs, demo"),
    ({"relax": "some"}, "config 'relax': 'some' is not one of ['all', 'best', 'none']"),
    ({"model_dtype": "half"},
     "config 'model_dtype': 'half' is not one of ['auto', 'float32', 'bfloat16']"),
    ({"max_template_date": "2021/01/01"},
     "config 'max_template_date': '2021/01/01' does not match"),
    ({"models": "[model_9_ptm]"}, "config 'models.0': 'model_9_ptm' does not match"),
    ({"num_recycle": -5}, "config 'num_recycle': -5 is less than the minimum of -1"),
    ({"use_templates": "perhaps"}, "config 'use_templates': 'perhaps' is not of type 'boolean'"),
])
def test_bad_config_fails_before_any_job(run_workflow, inputs, tmp_path, demo_db, extra,
                                         expected):
    run = run_workflow("-n", config=_demo_config(inputs, tmp_path, demo_db, **extra))
    assert run.returncode == 2, run.output
    assert expected in run.stderr
    assert len([line for line in run.stderr.splitlines() if "folding: error" in line]) == 1
    assert not (tmp_path / "out").exists()


def test_command_line_strings_are_typed(run_workflow, inputs, tmp_path, demo_db):
    run = run_workflow("-n", config=_demo_config(
        inputs, tmp_path, demo_db, use_templates="false", models="[model_1_ptm,model_2_ptm]",
        num_recycle=0))
    assert run.returncode == 0, run.output
    assert "template_search" not in run.stdout
    assert "predict" in run.stdout


def test_bad_input_fails_before_any_job(run_workflow, tmp_path, demo_db, shared_data):
    run = run_workflow("-n", config=_demo_config(shared_data / "queries" / "dna.fasta",
                                                 tmp_path, demo_db))
    assert run.returncode == 2, run.output
    assert "folding: error:" in run.stderr and "dna.fasta" in run.stderr
    run = run_workflow("-n", config={"output_dir": tmp_path / "out", "preset": "demo",
                                     "database_dir": demo_db})
    assert run.returncode == 2
    assert "folding: error: config 'input' is not set; pass --config input=" in run.stderr


def _missing(preset: str, names: list[str], root) -> str:
    manifest = load_preset(preset)
    paths = [e.path + ("/" if e.kind == "dir" else "")
             for name in names for e in manifest.get(name).layout]
    return (f"database_dir {root} is incomplete for preset {preset} ({len(paths)} missing: "
            f"{', '.join(paths)}); run: folding databases download --preset {preset} "
            f"--dir {root} --only {','.join(names)}")


@pytest.mark.parametrize(("preset", "databases"), [
    ("full_dbs", ["uniref90", "mgnify", "bfd", "uniref30", "pdb70", "pdb_mmcif"]),
    ("reduced_dbs", ["uniref90", "small_bfd", "pdb_seqres", "pdb_mmcif"]),
])
def test_dry_run_against_an_empty_tree_names_every_missing_file(
    run_workflow, inputs, tmp_path, preset, databases
):
    empty = tmp_path / "empty"
    empty.mkdir()
    run = run_workflow("-n", config={"input": inputs, "output_dir": tmp_path / "out",
                                     "preset": preset, "database_dir": empty})
    assert run.returncode == 3, run.output
    errors = [line for line in run.stderr.splitlines() if line.startswith("folding: error:")]
    assert len(errors) == 1
    params = (f"params_dir {empty}/params lacks "
              + ", ".join(f"params_model_{i}_ptm.npz" for i in range(1, 6))
              + f"; run: folding databases download --preset {preset} --dir {empty} "
              "--only params (or set allow_untrained_params=true to run with untrained "
              "parameters)")
    assert errors[0] == f"folding: error: {_missing(preset, databases, empty)}; {params}"
    assert not (tmp_path / "out").exists()


def test_missing_parameters_are_an_error_unless_untrained_is_chosen(
    run_workflow, inputs, tmp_path, demo_db
):
    # The demo tree holds every database reduced_dbs searches (UniRef90, small BFD, PDB
    # seqres, mmCIF folder): only the parameters are missing.
    config = _demo_config(inputs, tmp_path, demo_db, preset="reduced_dbs")
    run = run_workflow("-n", config=config)
    assert run.returncode == 3, run.output
    assert run.stderr.strip().splitlines()[-1] == (
        f"folding: error: params_dir {demo_db}/params lacks "
        + ", ".join(f"params_model_{i}_ptm.npz" for i in range(1, 6))
        + f"; run: folding databases download --preset reduced_dbs --dir {demo_db} "
        "--only params (or set allow_untrained_params=true to run with untrained parameters)"
    )
    run = run_workflow("-n", config={**config, "allow_untrained_params": "true"})
    assert run.returncode == 0, run.output
    assert "folding: note: no parameter file for params_model_1_ptm.npz" in run.stderr
    # The demo runs untrained without being asked, and says so.
    run = run_workflow("-n", config=_demo_config(inputs, tmp_path, demo_db))
    assert run.returncode == 0, run.output
    assert "running with UNTRAINED (random) parameters" in run.stderr


def test_lint_and_snakefmt_are_clean(run_workflow, inputs, tmp_path, demo_db, venv_bin):
    import subprocess

    run = run_workflow("--lint", config=_demo_config(inputs, tmp_path, demo_db))
    assert run.returncode == 0, run.output
    assert "Congratulations, your workflow is in a good condition!" in run.output
    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    files = ["Snakefile", *sorted(str(p.relative_to(root))
                                  for p in (root / "workflows" / "rules").glob("*.smk"))]
    fmt = subprocess.run([str(venv_bin / "snakefmt"), "--check", *files], cwd=root,
                         capture_output=True, text=True, check=False)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_parameter_files_in_params_dir_replace_untrained_parameters(
    run_workflow, inputs, tmp_path, demo_db
):
    params_dir = tmp_path / "params"
    params_dir.mkdir()
    (params_dir / "params_model_1_ptm.npz").write_bytes(b"placeholder: only its presence counts")
    run = run_workflow("-n", "-p", config=_demo_config(inputs, tmp_path, demo_db,
                                                       params_dir=params_dir))
    assert run.returncode == 0, run.output
    assert "UNTRAINED" not in run.stderr
    assert f"folding model run --params {params_dir}/params_model_1_ptm.npz" in run.stdout
    assert "--untrained-params" not in run.stdout
