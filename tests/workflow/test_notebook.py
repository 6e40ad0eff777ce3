"""The Colab notebook (workflows/colab.ipynb) executed end to end, headless, with nbclient:
the demo preset on the CPU, the package already installed (INSTALL=False), parameters
injected after the cell tagged ``parameters`` as papermill does; then every cell's
outputs are checked: the accelerator found, the workflow run, the 3D view, the plots and
the results zip."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "workflows" / "colab.ipynb"


def _tagged(cell, tag: str) -> bool:
    return tag in cell.get("metadata", {}).get("tags", [])


def with_parameters(notebook, values: dict):
    """The notebook with a cell setting ``values`` after its ``parameters`` cell."""
    import nbformat

    index = next(i for i, cell in enumerate(notebook.cells) if _tagged(cell, "parameters"))
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(index + 1, cell)
    return notebook


def _text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        for value in output.get("data", {}).values():
            if isinstance(value, str):
                parts.append(value)
    return "".join(parts)


def _cell(notebook, needle: str):
    return next(cell for cell in notebook.cells
                if cell.cell_type == "code" and needle in cell.source)


def test_notebook_is_clean_and_parameterised():
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    parameters = [cell for cell in code if _tagged(cell, "parameters")]
    assert len(parameters) == 1
    for name in ("SEQUENCE", "MODE", "INSTALL", "REPOSITORY", "CHECKOUT", "DEMO_DATABASES",
                 "DRIVE_DATABASES", "MSA_SERVER_URL", "WORK_DIR"):
        assert f"\n{name} = " in "\n" + parameters[0].source, name
    # It calls the public interface only: the CLI and folding.report.show.
    source = "\n".join(cell.source for cell in code)
    imports = {line.split()[1] for line in source.splitlines()
               if line.startswith(("from folding", "import folding"))}
    assert imports <= {"folding", "folding.report"}, imports


def _execute(work: Path, demo_db: Path, sequence: str):
    import nbformat
    from nbclient import NotebookClient

    notebook = with_parameters(nbformat.read(NOTEBOOK, as_version=4), {
        "SEQUENCE": sequence, "JOB_NAME": "pqqa", "MODE": "demo",
        "DEMO_DATABASES": str(demo_db), "DOWNLOAD_PARAMS": False, "NUM_RECYCLE": 0,
        "WORK_DIR": str(work / "run"), "INSTALL": False, "CHECKOUT": str(ROOT),
    })
    client = NotebookClient(notebook, timeout=1500, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})
    start = time.perf_counter()
    client.execute()
    print(f"notebook executed in {time.perf_counter() - start:.0f} s")
    nbformat.write(notebook, work / "executed.ipynb")
    return notebook


def test_notebook_runs_the_demo_end_to_end_on_the_cpu(tmp_path, demo_db, tiny_sequences):
    """One test, so that pytest-xdist never runs the notebook twice."""
    notebook = _execute(tmp_path, demo_db, tiny_sequences["pqqa"])
    run = tmp_path / "run"
    # the accelerator, the sequence check, the databases, the workflow
    assert "CPU:" in _text(_cell(notebook, "jax.default_backend()"))
    assert "pqqa\t23\t" in _text(_cell(notebook, '"inputs", "check"'))
    databases = _text(_cell(notebook, "PRESET, MSA_MODE"))
    assert "preset demo, MSA local, templates True" in databases
    assert "parameters none: untrained" in databases
    assert "done in" in _text(_cell(notebook, "--rerun-incomplete"))
    assert (run / "results" / "pqqa" / "report.html").is_file()
    # the 3D view and the three plots
    view = _cell(notebook, "show(TARGET)")
    html = "".join(o.get("data", {}).get("text/html", "") for o in view.outputs)
    assert "3Dmol" in html and "ATOM" in html, [o.get("data", {}).keys() for o in view.outputs]
    plots = _cell(notebook, "plddt.png")
    images = [o for o in plots.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3, _text(plots)
    # every result in one zip
    assert "pqqa_results.zip" in _text(_cell(notebook, "make_archive"))
    with zipfile.ZipFile(run / "pqqa_results.zip") as archive:
        names = set(archive.namelist())
        for name in ("ranked_0.pdb", "ranked_0.cif", "report.html", "plddt.png", "pae.png",
                     "ranking_debug.json", "msas/uniref90_hits.sto"):
            assert f"pqqa/{name}" in names, name
        assert "untrained" in archive.read("pqqa/ranked_0.pdb").decode().lower()
        ranking = json.loads(archive.read("pqqa/ranking_debug.json"))
    assert ranking["order"] == ["model_1_ptm"]
