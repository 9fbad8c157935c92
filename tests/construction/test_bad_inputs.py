"""Bad inputs to every ``reliant construct`` command: exit 2, one stderr line naming the
file / line / field, and no run folder left behind (shared cases -- config files, seeds,
unknown flags -- are in tests/test_command_contract.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli_runner import assert_exit_2_one_line


def _manifest(tmp: Path, rows, name="m.jsonl") -> str:
    path = tmp / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _cases(tmp: Path, tree: Path, server_url: str) -> dict[str, tuple[list, str]]:
    image = str(next((tree / "digit0").glob("*.png")))
    empty = tmp / "empty_tree"
    (empty / "cats").mkdir(parents=True)
    (empty / "cats" / "readme.txt").write_text("no images")
    broken = tmp / "broken_tree"
    (broken / "cats").mkdir(parents=True)
    for k in range(3):
        (broken / "cats" / f"{k}.jpg").write_bytes(b"not a jpeg at all")
    good_manifest = _manifest(tmp, [{"path": image, "label": "a"}] * 30 + [{"path": image, "label": "b"}] * 30)
    design = tmp / "design.json"
    design.write_text(json.dumps({"task": "t", "classes": [{"name": "a", "queries": ["x"]},
                                                           {"name": "b", "queries": ["y"]}]}))
    bad_design = tmp / "bad_design.json"
    bad_design.write_text(json.dumps({"task": "t", "classes": [{"name": "a"}]}))
    np.save(tmp / "T.npy", np.eye(3))
    search = server_url + "/search?q={query}"
    return {
        # collect
        "folder with no images": (["collect", "--root", empty], "has no class folder with image files"),
        "only unreadable images": (["collect", "--root", broken], "none of its 3 image files could be read"),
        "root is a file": (["collect", "--root", image], "is a file, expected a folder"),
        "missing root": (["collect", "--root", tmp / "nope"], "no such file or folder"),
        "folder backend without root": (["collect"], "--backend folder needs --root"),
        "unknown backend": (["collect", "--backend", "ftp", "--root", tree], "unknown value 'ftp'"),
        "manifest label out of range": (["collect", "--backend", "manifest", "--design", design, "--manifest",
                                         _manifest(tmp, [{"path": image, "label": 0}, {"path": image, "label": 7}],
                                                   "oor.jsonl")], "oor.jsonl:2: field 'label': label 7 out of range"),
        "manifest row without path": (["collect", "--backend", "manifest", "--manifest",
                                       _manifest(tmp, [{"label": "a"}], "nopath.jsonl")],
                                      "nopath.jsonl:1: field 'path'"),
        "manifest bad json line": (["collect", "--backend", "manifest", "--manifest",
                                    str(tmp / "badline.jsonl")], "badline.jsonl:2"),
        "http answering garbage": (["collect", "--backend", "http", "--design", design, "--url-template",
                                    server_url + "/garbage?q={query}", "--retries", "0"], "search API"),
        "http template without query": (["collect", "--backend", "http", "--design", design, "--url-template",
                                         server_url], "must contain {query}"),
        "design not matching the schema": (["collect", "--backend", "http", "--design", bad_design,
                                            "--url-template", search], "does not match the design schema"),
        # design
        "design without task": (["design"], "give --task"),
        "bad llm spec": (["design", "--task", "x", "--llm", "nonsense-llm"], "unknown LLM spec"),
        "design and task together": (["design", "--design", design, "--task", "x"], "do not combine"),
        "design file not json": (["design", "--design", str(tmp / "badline.jsonl")], "invalid JSON"),
        # clean
        "clean manifest missing": (["clean", "--manifest", tmp / "none.jsonl"], "no such file or folder"),
        "clean manifest unknown class": (["clean", "--manifest", _manifest(tmp, [{"path": image, "label": "zzz"}],
                                                                          "cls/m.jsonl")], "is not one of"),
        "clean all unreadable": (["clean", "--manifest", _manifest(tmp, [{"path": str(tmp / "gone.png"), "label": "a"}],
                                                                   "gone.jsonl")], "none of its 1 images could be read"),
        "clean unknown detector": (["clean", "--manifest", good_manifest, "--detectors", "magic"], "unknown value 'magic'"),
        "clean too few images": (["clean", "--manifest", _manifest(tmp, [{"path": image, "label": "a"}] * 5,
                                                                   "few.jsonl")], "cleaning needs at least 20"),
        # train
        "unknown method": (["train", "--manifest", good_manifest, "--method", "magic"], "unknown value 'magic'"),
        "transition of the wrong shape": (["train", "--manifest", good_manifest, "--method", "forward",
                                           "--transition", tmp / "T.npy"], "expected (2, 2)"),
        "bad epochs": (["train", "--manifest", good_manifest, "--epochs", "0"], "epochs"),
        "bad lr": (["train", "--manifest", good_manifest, "--lr", "nan"], "lr"),
        "bad architecture": (["train", "--manifest", good_manifest, "--architecture", "vgg"], "unknown value 'vgg'"),
        "test manifest with another class": (["train", "--manifest", good_manifest, "--test-manifest",
                                              _manifest(tmp, [{"path": image, "label": "q"}], "t.jsonl")], "is not one of"),
        # benchmark
        "unknown suite": (["benchmark", "--suite", "speed"], "unknown value 'speed'"),
        "unknown noise": (["benchmark", "--noise", "pink:0.2"], "unknown noise setting"),
        "noise rate out of range": (["benchmark", "--noise", "symmetric:1.5"], "rate must be in"),
        "unknown benchmark method": (["benchmark", "--methods", "ce,magic"], "unknown method 'magic'"),
        "bad ratio": (["benchmark", "--suite", "imbalance", "--ratios", "0.5"], "ratios"),
    }



@pytest.fixture()
def cases(tmp_path, digit_tree, search_server):
    (tmp_path / "cls").mkdir()
    (tmp_path / "cls" / "classes.json").write_text(json.dumps(["a", "b"]))  # collect writes it beside the manifest
    (tmp_path / "badline.jsonl").write_text('{"path": "a.png", "label": "a"}\n{"path": \n')
    search_server.mode = "garbage"
    return _cases(tmp_path, digit_tree, search_server.url)


NAMES = [
    "folder with no images", "only unreadable images", "root is a file", "missing root", "folder backend without root",
    "unknown backend", "manifest label out of range", "manifest row without path", "manifest bad json line",
    "http answering garbage", "http template without query", "design not matching the schema",
    "design without task", "bad llm spec", "design and task together", "design file not json",
    "clean manifest missing", "clean manifest unknown class", "clean all unreadable", "clean unknown detector",
    "clean too few images", "unknown method", "transition of the wrong shape", "bad epochs", "bad lr",
    "bad architecture", "test manifest with another class", "unknown suite", "unknown noise",
    "noise rate out of range", "unknown benchmark method", "bad ratio",
]


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_exits_2_with_one_line(name, cases, tmp_path, capsys):
    args, expected = cases[name]
    assert_exit_2_one_line(["construct", *args, "--out", tmp_path / "out"], capsys, expected, tmp_path)


def test_every_case_is_run(cases):
    assert sorted(cases) == sorted(NAMES)
