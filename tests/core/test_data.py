import gzip
import json

import numpy as np
import pytest
import torch

from reliant.core.data import (
    Field,
    Schema,
    check_same_length,
    load_array,
    load_records,
    save_array,
    save_records,
)
from reliant.core.errors import DataError

QA = Schema([Field("question"), Field("answer"), Field("label", "int", required=False, min=0, max=3)])


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------- reading each format


def test_jsonl_records_keep_file_and_line(tmp_path):
    f = write(tmp_path / "a.jsonl", '{"question": "q1", "answer": "a1"}\n\n{"question": "q2", "answer": "a2"}\n')
    records = load_records(f, schema=QA)
    assert [r["question"] for r in records] == ["q1", "q2"]
    assert [r.line for r in records] == [1, 3]
    assert records[0].source == str(f)
    assert records[1]["label"] is None


def test_json_list_columns_and_json_lines_inside_json(tmp_path):
    rows = [{"question": "q", "answer": "a"}, {"question": "r", "answer": "b"}]
    as_list = write(tmp_path / "list.json", json.dumps(rows))
    as_columns = write(tmp_path / "cols.json", json.dumps({"question": ["q", "r"], "answer": ["a", "b"]}))
    as_lines = write(tmp_path / "lines.json", "\n".join(json.dumps(r) for r in rows))
    wrapped = write(tmp_path / "wrapped.json", json.dumps({"data": rows}))
    for f in (as_list, as_columns, as_lines, wrapped):
        assert [dict(r) for r in load_records(f)] == rows


def test_csv_parquet_and_gzip_round_trip(tmp_path):
    rows = [{"question": "q, with comma", "answer": "a", "label": 1}, {"question": "r", "answer": "b\nc", "label": 2}]
    for name in ("out.jsonl", "out.json", "out.csv", "out.parquet", "out.jsonl.gz"):
        path = save_records(rows, tmp_path / name)
        loaded = load_records(path, schema=QA)
        assert [r["label"] for r in loaded] == [1, 2], name
        assert loaded[0]["question"] == "q, with comma"
        assert loaded[1]["answer"] == "b\nc"


def test_hf_dataset_saved_to_disk(tmp_path):
    import datasets

    datasets.Dataset.from_list([{"question": "q", "answer": "a"}]).save_to_disk(str(tmp_path / "ds"))
    records = load_records(tmp_path / "ds", schema=QA)
    assert records[0]["answer"] == "a"
    dd = datasets.DatasetDict({"test": datasets.Dataset.from_list([{"question": "x", "answer": "y"}])})
    dd.save_to_disk(str(tmp_path / "dd"))
    assert load_records(tmp_path / "dd", split="test")[0]["question"] == "x"


def test_schema_aliases_defaults_and_coercion(tmp_path):
    f = write(tmp_path / "a.csv", "prompt,answer,label\nq,a,2\nr,b,\n")
    schema = Schema([Field("question", aliases=("prompt",)), Field("answer"), Field("label", "int", required=False, default=0)])
    records = load_records(f, schema=schema)
    assert records[0]["question"] == "q" and records[0]["label"] == 2
    assert records[1]["label"] == 0


def test_shipped_tofu_gz_reads():
    from importlib.resources import files

    path = files("reliant.unlearning") / "bench_data" / "tofu" / "forget01_perturbed.jsonl.gz"
    records = load_records(str(path))
    assert len(records) == 40 and "perturbed_answer" in records[0]


# ----------------------------------------------------------------- bad input: one line naming where


def one_line(exc):
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bad.jsonl", '{"question": "q", "answer": "a"}\n{"question": "q" "answer"}\n', "bad.jsonl:2: invalid JSON"),
        ("list.jsonl", '{"question": "q", "answer": "a"}\n[1, 2]\n', "bad/list.jsonl:2: expected a JSON object"),
        ("missing.jsonl", '{"question": "q", "answer": "a"}\n{"question": "q"}\n', "missing.jsonl:2: field 'answer': missing"),
        ("empty_answer.jsonl", '{"question": "q", "answer": "  "}\n', "empty_answer.jsonl:1: field 'answer': is empty"),
        ("label_range.jsonl", '{"question": "q", "answer": "a", "label": 7}\n', "label_range.jsonl:1: field 'label': value 7 is above the maximum 3"),
        ("label_type.jsonl", '{"question": "q", "answer": "a", "label": "seven"}\n', "field 'label': expected an integer"),
        ("answer_type.jsonl", '{"question": "q", "answer": 3}\n', "answer_type.jsonl:1: field 'answer': expected text"),
        ("empty.jsonl", "", "empty.jsonl: contains no records"),
        ("blank.json", "   \n", "blank.json: contains no records"),
        ("ragged.csv", "question,answer\nq,a\nr,b,extra\n", "ragged.csv:3: row has 3 cells"),
        ("dup.csv", "question,question\nq,a\n", "dup.csv:1: field 'question': duplicate column"),
        ("missing.csv", "question,answer\nq,\n", "missing.csv:2: field 'answer': is empty"),
        ("cols.json", '{"question": ["a", "b"], "answer": ["x"]}', "cols.json: columns have different lengths"),
        ("notlist.json", '"just a string"', "notlist.json: expected a list of objects"),
        ("broken.json", '[{"question": "q",\n "answer": }]', "broken.json:2: invalid JSON"),
        ("table.xlsx", "x", "unsupported file type '.xlsx'"),
        ("latin.jsonl", None, "latin.jsonl:2: not valid UTF-8"),
    ],
)
def test_bad_record_files_name_file_line_field(tmp_path, name, content, expected):
    folder = tmp_path / "bad"
    folder.mkdir()
    path = folder / name
    if content is None:
        path.write_bytes(b'{"question": "q", "answer": "a"}\n{"question": "caf\xe9", "answer": "a"}\n')
    else:
        write(path, content)
    with pytest.raises(DataError) as exc:
        load_records(path, schema=QA)
    assert expected in one_line(exc)
    assert str(path.parent) in str(exc.value) or name in str(exc.value)


def test_wrong_path_and_plain_directory(tmp_path):
    with pytest.raises(DataError) as exc:
        load_records(tmp_path / "nope.jsonl")
    assert "nope.jsonl: no such file" in one_line(exc)
    with pytest.raises(DataError) as exc:
        load_records(tmp_path)
    assert "not a dataset saved with save_to_disk" in one_line(exc)


def test_corrupt_gzip_and_parquet(tmp_path):
    gz = tmp_path / "a.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"question": "q", "answer": "a"}\n')[:-6])
    with pytest.raises(DataError) as exc:
        load_records(gz)
    assert "a.jsonl.gz: cannot read file" in one_line(exc)
    bad = write(tmp_path / "a.parquet", "not parquet")
    with pytest.raises(DataError) as exc:
        load_records(bad)
    assert "a.parquet: invalid parquet file" in one_line(exc)


def test_check_same_length():
    assert check_same_length(logits=[1, 2], labels=[0, 1]) == 2
    with pytest.raises(DataError, match="logits has 3, labels has 2"):
        check_same_length(logits=[1, 2, 3], labels=[0, 1])


def test_save_records_failure_leaves_nothing(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(TypeError):
        save_records([{"a": object()}], target)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------- arrays


def test_arrays_from_every_format(tmp_path):
    logits = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.save(tmp_path / "l.npy", logits)
    torch.save(torch.from_numpy(logits), tmp_path / "l.pt")
    torch.save({"logits": torch.from_numpy(logits), "labels": torch.arange(4)}, tmp_path / "d.pt")
    from safetensors.numpy import save_file

    save_file({"logits": logits}, str(tmp_path / "l.safetensors"))
    write(tmp_path / "l.csv", "a,b,c\n" + "\n".join(",".join(str(v) for v in row) for row in logits) + "\n")
    for name in ("l.npy", "l.pt", "l.safetensors", "l.csv"):
        np.testing.assert_allclose(load_array(tmp_path / name, ndim=2), logits)
    np.testing.assert_allclose(load_array(tmp_path / "d.pt", key="logits"), logits)
    write(tmp_path / "labels.txt", "0\n1\n2\n")
    labels = load_array(tmp_path / "labels.txt", ndim=1, dtype="int")
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 2]
    save_array(labels, tmp_path / "copy.npy")
    assert load_array(tmp_path / "copy.npy").tolist() == [0, 1, 2]


def test_bad_arrays(tmp_path):
    np.save(tmp_path / "nan.npy", np.array([[0.0, np.nan]]))
    with pytest.raises(DataError) as exc:
        load_array(tmp_path / "nan.npy", name="logits")
    assert "field 'logits': contains NaN" in one_line(exc)
    write(tmp_path / "ragged.csv", "1,2\n3\n")
    with pytest.raises(DataError) as exc:
        load_array(tmp_path / "ragged.csv")
    assert "ragged.csv:2" in one_line(exc)
    write(tmp_path / "word.csv", "1\nx\n")
    with pytest.raises(DataError, match="word.csv:2: field 'array': not a number"):
        load_array(tmp_path / "word.csv")
    np.save(tmp_path / "frac.npy", np.array([0.5, 1.0]))
    with pytest.raises(DataError, match="expected integer values"):
        load_array(tmp_path / "frac.npy", dtype="int")
    np.save(tmp_path / "three.npy", np.zeros((2, 2, 2)))
    with pytest.raises(DataError, match="expected 2 dimensions"):
        load_array(tmp_path / "three.npy", ndim=2)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="cannot read array"):
        load_array(tmp_path / "objects.npy")
    with pytest.raises(DataError, match="no such file"):
        load_array(tmp_path / "missing.npy")


class Payload:
    """Stands in for arbitrary pickled code in a user file."""


def test_pickled_pt_is_refused(tmp_path):
    torch.save({"x": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(DataError, match="refusing to load"):
        load_array(tmp_path / "evil.pt")


# ----------------------------------------------------------------- unreadable files, records, many bad rows


def test_binary_undecodable_and_folder_inputs_are_one_line(tmp_path):
    from reliant.core.data import read_text_file

    binary = tmp_path / "data.jsonl"
    binary.write_bytes(b"\x00\x01\x02PK\x03\x04" * 10)
    with pytest.raises(DataError) as exc:
        load_records(binary)
    assert "data.jsonl: is a binary file" in one_line(exc)
    latin = tmp_path / "conf.yaml"
    latin.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(DataError) as exc:
        read_text_file(latin)
    assert "conf.yaml:2: not valid UTF-8" in one_line(exc)
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    for read in (lambda: load_records(folder), lambda: load_array(folder), lambda: read_text_file(folder)):
        with pytest.raises(DataError) as exc:
            read()
        assert "folder.jsonl" in one_line(exc) and "is a folder" in one_line(exc)
    with pytest.raises(DataError, match="no such file"):
        read_text_file(tmp_path / "absent.yaml")
    text_array = tmp_path / "labels.txt"
    text_array.write_bytes(b"0\n\x00\x00\n")
    with pytest.raises(DataError, match="labels.txt: field 'labels': is a binary file"):
        load_array(text_array, name="labels")


def test_writing_onto_a_folder_is_one_line(tmp_path):
    (tmp_path / "out.jsonl").mkdir()
    with pytest.raises(DataError, match="is a folder"):
        save_records([{"a": 1}], tmp_path / "out.jsonl")
    (tmp_path / "out.npy").mkdir()
    with pytest.raises(DataError, match="is a folder"):
        save_array(np.zeros(2), tmp_path / "out.npy")


def test_json_array_errors_say_record_not_line(tmp_path):
    rows = [{"question": "q", "answer": "a"}, {"question": "r"}]
    f = write(tmp_path / "list.json", json.dumps(rows, indent=2))
    with pytest.raises(DataError) as exc:
        load_records(f, schema=QA)
    assert "list.json: record 2: field 'answer': missing" in one_line(exc)
    f = write(tmp_path / "items.json", json.dumps([{"question": "q", "answer": "a"}, 3]))
    with pytest.raises(DataError) as exc:
        load_records(f)
    assert "items.json: record 2: is int, expected an object" in one_line(exc)
    records = load_records(write(tmp_path / "ok.json", json.dumps(rows[:1])))
    assert records[0].where == "record 1"


def test_schema_error_counts_every_bad_record_and_names_the_first_few(tmp_path):
    lines = [json.dumps({"question": f"q{i}", "answer": "a"} if i % 3 else {"question": f"q{i}"}) for i in range(12)]
    f = write(tmp_path / "many.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(DataError) as exc:
        load_records(f, schema=QA)
    message = one_line(exc)
    # rows 0, 3, 6, 9 miss 'answer': lines 1, 4, 7, 10
    assert message.startswith(f"{f}:1: field 'answer': missing")
    assert "4 of 12 records are bad" in message
    assert "also line 4 ('answer'), line 7 ('answer'), line 10 ('answer')" in message
    assert exc.value.line == 1 and exc.value.field == "answer"
    lines = [json.dumps({"question": f"q{i}"}) for i in range(10)]
    f = write(tmp_path / "all.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"10 of 10 records are bad; also line 2 \('answer'\), line 3 \('answer'\), "
                                        r"line 4 \('answer'\) and 6 more"):
        load_records(f, schema=QA)


# ----------------------------------------------------------------- labels and class scores (one copy for the house)


def test_load_and_check_labels(tmp_path):
    from reliant.core.data import check_labels, check_rows, load_class_scores, load_labels, required_path
    from reliant.core.errors import ConfigError

    np.save(tmp_path / "y.npy", np.array([0, 2, 1]))
    assert load_labels(tmp_path / "y.npy", 3).tolist() == [0, 2, 1]
    np.save(tmp_path / "col.npy", np.array([[0.0], [2.0]]))  # a 1-column array of integral floats
    assert load_labels(tmp_path / "col.npy").dtype == np.int64
    with pytest.raises(DataError, match="y.npy: field 'labels': has 3 rows but logits.npy has 4"):
        load_labels(tmp_path / "y.npy", 3, rows=4, reference="logits.npy")
    with pytest.raises(DataError, match=r"label 2 at row 2 is outside 0..1 \(it is not below --num-classes 2\)"):
        load_labels(tmp_path / "y.npy", 2, classes_from="--num-classes")
    with pytest.raises(DataError, match="label -1 at row 2 is negative"):
        check_labels(np.array([0, -1]), name="labels")
    with pytest.raises(DataError, match="expected integer labels"):
        check_labels(np.array([0.5, 1.0]))
    with pytest.raises(DataError, match="expected integer labels"):
        check_labels(np.array([True, False]))
    with pytest.raises(DataError, match="one label per row"):
        check_labels(np.zeros((2, 2), dtype=int))
    with pytest.raises(DataError, match="has 2 rows but x has 3"):
        check_rows("v", 2, 3, None, "x")
    with pytest.raises(ConfigError, match="field 'labels': required"):
        required_path(None, "labels")
    np.save(tmp_path / "p.npy", np.array([[0.25, 0.75], [0.5, 0.5]]))
    np.testing.assert_allclose(np.exp(load_class_scores(tmp_path / "p.npy", probabilities=True)), [[0.25, 0.75], [0.5, 0.5]])
    np.save(tmp_path / "bad.npy", np.array([[0.2, 0.2]]))
    with pytest.raises(DataError, match="sums to 0.4"):
        load_class_scores(tmp_path / "bad.npy", name="probs", probabilities=True)
    np.save(tmp_path / "one.npy", np.zeros((3, 1)))
    with pytest.raises(DataError, match="at least 2 classes"):
        load_class_scores(tmp_path / "one.npy")


def test_user_error_is_a_value_error():
    from reliant.core.errors import ConfigError, UserError

    assert issubclass(UserError, ValueError) and issubclass(DataError, ValueError)
    with pytest.raises(ValueError, match="field 'k': must be"):
        raise ConfigError("must be >= 1", field="k")


@pytest.mark.parametrize(("value", "bounds", "expected"), [
    (float("nan"), {"low": 1}, "must be a finite number >= 1, got nan"),
    (float("inf"), {"low": 0, "low_open": True}, "must be a finite number > 0, got inf"),
    (-1, {"low": 0, "integer": True}, "must be an integer >= 0, got -1"),
    (2.5, {"low": 1, "integer": True}, "must be an integer >= 1, got 2.5"),
    (True, {}, "must be a finite number, got True"),
    ("x", {}, "must be a finite number, got 'x'"),
    (1.5, {"low": 0, "high": 1, "low_open": True}, "must be in (0, 1], got 1.5"),
    (0, {"low": 0, "high": 1, "low_open": True}, "must be in (0, 1], got 0"),
])
def test_check_number_rejects(value, bounds, expected):
    from reliant.core.errors import ConfigError, check_number

    with pytest.raises(ConfigError) as exc:
        check_number(value, "x", **bounds)
    assert str(exc.value) == f"field 'x': {expected}"


def test_check_number_accepts():
    from reliant.core.errors import check_number

    assert check_number(1, "x", low=0, high=1, low_open=True) == 1.0
    assert check_number(2**70, "seed", low=0, integer=True) == 2**70
    assert check_number(3.0, "k", low=1, integer=True) == 3
