"""The Colab notebook's demo mode where no real-data folder exists (a fresh Colab runtime):
its cells up to the databases cell run headless with nbclient, build the demo tree with
``build-demo --from public`` (here from loopback stand-ins for UniProt, RCSB and the
wwPDB, serving real files) and check it. The full notebook run, on a built demo tree, is
tests/workflow/test_notebook.py."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "workflows" / "colab.ipynb"


def _notebook_through_databases(values: dict):
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    cells = notebook.cells
    parameters = next(i for i, c in enumerate(cells)
                      if "parameters" in c.get("metadata", {}).get("tags", []))
    databases = next(i for i, c in enumerate(cells)
                     if c.cell_type == "code" and "PRESET, MSA_MODE" in c.source)
    injected = nbformat.v4.new_code_cell(
        "\n".join(f"{name} = {value!r}" for name, value in values.items()),
        metadata={"tags": ["injected-parameters"]})
    notebook.cells = [*cells[:parameters + 1], injected, *cells[parameters + 1:databases + 1]]
    return notebook


def _outputs(notebook) -> str:
    return "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for o in cell.get("outputs", []))


@pytest.mark.slow
def test_notebook_demo_builds_from_public_services_without_shared_data(
    tmp_path, public_mirror, monkeypatch
):
    from nbclient import NotebookClient

    server, sources = public_mirror
    monkeypatch.setenv("FOLDING_SHARED_DATA", str(tmp_path / "no_shared_data"))
    work = tmp_path / "run"
    notebook = _notebook_through_databases({
        "SEQUENCE": "KVFGRCELAAAMKRHGLDNYRGYSLGNWVCAAKFESNFNTQATNRNTDGSTDYGILQINSRWW",
        "JOB_NAME": "lyso", "MODE": "demo", "DOWNLOAD_PARAMS": False, "INSTALL": False,
        "CHECKOUT": str(ROOT), "WORK_DIR": str(work),
        "PUBLIC_MIRRORS": {"uniprot": sources.uniprot, "rcsb": sources.rcsb,
                           "wwpdb": sources.wwpdb},
    })
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = _outputs(notebook)
    assert "building the demo databases from the public services" in text
    assert "--from public" in text
    assert "pdb_mmcif: pdb_mmcif/mmcif_files/ (61 entries" in text
    assert "preset demo, MSA local, templates True" in text
    assert "uniref90: ok" in text  # the notebook's own check of the built tree
    assert (work / "demo_databases" / "uniref90" / "uniref90.fasta").is_file()
    assert {status for _, _, status in server.log} == {200}
