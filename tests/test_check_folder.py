"""check --json, and a folder of submissions graded at once with a class summary."""
from __future__ import annotations

import csv
import json

from symderiv.cli import main

GOOD = "# relu: da/dz\n[z_j > 0]\\delta_{ij}\n\n# softmax: dg_j/dz_i\ng_j(\\delta_{ij} - g_i)\n"
SIGN = "# relu: da/dz\n\\operatorname{sgn}(z_j)\\delta_{ij}\n\n# softmax: dg_j/dz_i\ng_j(\\delta_{ij} - g_i\n"
MIXED = ("% a student's file\n# relu: da/dz\n[z_j > 0]\\delta_{ij}\n# frobnicate: dq/dw\nx\n"
         "# softmax: dg/dz\ng_j(\\delta_{ij} - g_j)\n# relu: da/dz\n[z_j > 0\n")


def test_json_prints_only_a_list_with_one_object_per_answer(tmp_path, capsys):
    path = tmp_path / "mixed.txt"
    path.write_text(MIXED)
    assert main(["check", str(path), "--json"]) == 1
    captured = capsys.readouterr()
    objects = json.loads(captured.out)
    assert [(o["quantity"], o["status"], o["line"]) for o in objects] == [
        ("relu: da/dz", "correct", 2), ("frobnicate: dq/dw", "unreadable", 4), ("softmax: dg/dz", "wrong", 6),
        ("relu: da/dz", "unreadable", 8)]
    assert all(set(o) >= {"quantity", "status", "line", "source", "message"} for o in objects)
    assert objects[3]["source"] == "[z_j > 0" and objects[3]["message"].startswith("at position 8:")
    assert "unknown layer" in objects[1]["message"] and objects[1]["file"] == str(path)
    good = tmp_path / "good.txt"
    good.write_text(GOOD)
    assert main(["check", str(good), "--json"]) == 0
    assert [o["status"] for o in json.loads(capsys.readouterr().out)] == ["correct", "correct"]


def test_every_detail_names_the_file_and_line(tmp_path, capsys):
    path = tmp_path / "mixed.txt"
    path.write_text(MIXED)
    main(["check", str(path)])
    out = capsys.readouterr().out
    for line in (4, 6, 8):
        assert f"-- {path}:{line}:" in out


def _class(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.txt").write_text(GOOD)
    (folder / "bob.txt").write_text(SIGN)
    (folder / "carol.md").write_text(SIGN)
    (folder / "dave.pdf").write_bytes(b"%PDF-1.4\n\0\x93binary")
    (folder / "erin.txt").write_text("no heading here\n")
    (folder / "frank.txt").write_text("")
    return folder


def test_a_folder_is_graded_file_by_file_with_a_class_summary(tmp_path, capsys):
    folder = _class(tmp_path)
    report = tmp_path / "class.md"
    assert main(["check", str(folder), "--report", str(report)]) == 1
    captured = capsys.readouterr()
    assert f"== {folder / 'alice.txt'}" in captured.out and f"== {folder / 'bob.txt'}" in captured.out
    assert "dave.pdf: not a text file" in captured.err and "frank.txt: no answers found" in captured.err
    text = report.read_text()
    assert "| `relu: da/dz` | 1 | 2 | 0 |" in text
    assert "| `softmax: dg/dz` | 1 | 0 | 2 |" in text
    assert "| `(no heading)` | 0 | 0 | 1 |" in text  # erin's stray formula
    assert "wrong: \\operatorname{sgn}(z_j)\\delta_{ij} | 2 |" in text  # the most frequent mistake, twice
    assert "dave.pdf" in text and "4 of 6 files graded" in text  # dave's PDF and frank's empty file are not
    assert main(["check", str(folder), "--report", str(report)]) == 1  # ours: rewritten without --force


def test_the_class_summary_as_csv(tmp_path, capsys):
    folder = _class(tmp_path)
    report = tmp_path / "class.csv"
    assert main(["check", str(folder), "--report", str(report)]) == 1
    rows = list(csv.reader(report.read_text().splitlines()[1:]))
    assert rows[0][:4] == ["question", "correct", "wrong", "unreadable"]
    by_question = {r[0]: r for r in rows[1:]}
    assert by_question["relu: da/dz"][1:4] == ["1", "2", "0"] and by_question["relu: da/dz"][5] == "2"
    assert any("dave.pdf" in r[0] for r in rows)


def test_a_folder_as_json_lists_every_file(tmp_path, capsys):
    folder = _class(tmp_path)
    assert main(["check", str(folder), "--json"]) == 1
    objects = json.loads(capsys.readouterr().out)
    files = {o["file"].rsplit("/", 1)[-1] for o in objects}
    assert files == {"alice.txt", "bob.txt", "carol.md", "dave.pdf", "erin.txt", "frank.txt"}
    assert [o["status"] for o in objects if o["file"].endswith("dave.pdf")] == ["unreadable"]


def test_folder_reports_are_md_or_csv_and_an_empty_folder_is_an_error(tmp_path, capsys):
    folder = _class(tmp_path)
    assert main(["check", str(folder), "--report", str(tmp_path / "r.tex")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["check", str(tmp_path / "empty")]) == 2
    assert "no files to grade" in capsys.readouterr().err


def test_the_class_summary_keeps_the_residuals_of_two_nodes_apart():
    from symderiv.checking.class_report import canonical
    assert canonical("delta_yhat_a") != canonical("delta_yhat_b")
    assert canonical("dL/db_2a") == "dL/db_2a" and canonical("relu: da_j/dz_i") == canonical("relu: da/dz")
