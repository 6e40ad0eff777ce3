"""``folding report index``: one page and one JSON for the whole run."""

from __future__ import annotations

import json
import subprocess

from folding.report.target import make_target_report


def test_index_lists_every_target_with_its_best_scores(tmp_path, target_factory, venv_bin):
    out = tmp_path / "OUT"
    trained = target_factory(out, name="T10", untrained=False)
    untrained = target_factory(out, name="T2", models=("model_1_ptm", "model_2_ptm"))
    make_target_report(trained.path)
    (out / "logs").mkdir()  # folders without results are not targets
    done = subprocess.run([venv_bin / "folding", "report", "index", "--output-dir", out],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str(out / "index.html")
    index = json.loads((out / "index.json").read_text())
    assert index["untrained_parameters"] is True
    rows = {row["name"]: row for row in index["targets"]}
    assert [row["name"] for row in index["targets"]] == ["T2", "T10"]
    assert rows["T10"]["best_model"] == trained.expected_order[0]
    assert rows["T10"]["report"] == "T10/report.html"
    assert rows["T10"]["untrained"] is False and rows["T10"]["top_model_relaxed"] is True
    assert rows["T10"]["mean_plddt"] == round(float(trained.plddts[trained.expected_order[0]]
                                                    .astype(float).mean()), 2)
    assert rows["T2"]["report"] is None and rows["T2"]["num_models"] == 2
    assert rows["T2"]["best_model"] == untrained.expected_order[0]
    text = (out / "index.html").read_text()
    assert 'href="T10/report.html"' in text and "no report yet" in text
    assert 'id="untrained-banner"' in text
    assert "http" not in text


def test_index_of_a_missing_folder_fails(tmp_path, venv_bin):
    done = subprocess.run([venv_bin / "folding", "report", "index", "--output-dir",
                           tmp_path / "nowhere"], capture_output=True, text=True)
    assert done.returncode == 2 and "nowhere" in done.stderr
    assert not (tmp_path / "nowhere").exists()
