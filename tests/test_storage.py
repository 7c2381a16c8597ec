"""The storage seam: the same calls on local paths and on a real S3 server."""

import os

import pytest

from luke_core import storage
from luke_core.errors import LukeError


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path):
    if request.param == "local":
        return str(tmp_path / "root")
    return request.getfixturevalue("s3") + "/root"


def test_write_read_round_trip(root):
    uri = storage.join(root, "a", "b.json")
    storage.write_json(uri, {"x": 1})
    assert storage.read_json(uri) == {"x": 1}
    assert storage.exists(uri) and storage.is_file(uri)
    assert storage.exists(storage.join(root, "a")) and not storage.is_file(storage.join(root, "a"))
    assert storage.size(uri) == len(storage.read_bytes(uri))


def test_output_file_publishes_only_on_success(root):
    uri = storage.join(root, "out.bin")
    with pytest.raises(RuntimeError), storage.output_file(uri) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"half")
        raise RuntimeError("crash")
    assert not storage.exists(uri)
    with storage.output_file(uri) as tmp, open(tmp, "wb") as f:
        f.write(b"whole")
    assert storage.read_bytes(uri) == b"whole"


DATASET = storage.EarlierOutput("metadata.json", "kind", "dataset", "a dataset directory")


def write_output(uri: str, files: dict[str, str]) -> None:
    with storage.output_dir(uri, replaces=DATASET, markers=["metadata.json"]) as tmp:
        for name, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, name)), exist_ok=True)
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)


def test_output_dir_replaces_old_content_and_uploads_markers_last(root):
    uri = storage.join(root, "dataset")
    write_output(uri, {"old.bin": "old.bin", "metadata.json": '{"kind": "dataset"}'})
    with pytest.raises(RuntimeError), storage.output_dir(uri, replaces=DATASET):
        raise RuntimeError("crash")
    assert storage.read_text(storage.join(uri, "old.bin")) == "old.bin"
    write_output(uri, {"sub/new.bin": "new", "metadata.json": '{"kind": "dataset"}'})
    names = [f[len(uri) + 1 :] for f in storage.list_files(uri)]
    assert sorted(n.replace(os.sep, "/") for n in names) == ["metadata.json", "sub/new.bin"]


@pytest.mark.parametrize(
    "present",
    [
        {"dump.db": "inputs of the step"},  # OUT_DIR given as the folder of the inputs
        {"metadata.json": '{"kind": "pretraining_run"}', "epoch1/x": "a training run"},
        {"metadata.json": "not json"},
    ],
)
def test_output_dir_never_replaces_something_else(root, present):
    uri = storage.join(root, "out")
    for name, text in present.items():
        storage.write_text(storage.join(uri, *name.split("/")), text)
    entered = []
    with (
        pytest.raises(LukeError, match="exists and is not a dataset directory"),
        storage.output_dir(uri, replaces=DATASET),
    ):
        entered.append(True)  # the refusal comes before any work
    assert not entered
    for name, text in present.items():
        assert storage.read_text(storage.join(uri, *name.split("/"))) == text
    empty = storage.join(root, "empty")
    if not storage.is_s3(empty):
        os.makedirs(empty)  # an empty folder may be replaced (S3 has no empty prefixes)
    write_output(empty, {"metadata.json": "{}"})
    assert storage.read_text(storage.join(empty, "metadata.json")) == "{}"


def test_glob_expands_files_and_directories(root):
    for name in ("d1/x.txt", "d2/x.txt", "d2/y.bin", "e/z.txt"):
        storage.write_text(storage.join(root, *name.split("/")), name)
    got = [
        g[len(root) + 1 :].replace(os.sep, "/") for g in storage.expand(storage.join(root, "d*"))
    ]
    assert got == ["d1", "d2"]
    got = storage.expand(storage.join(root, "d*", "*.txt"))
    assert [g[len(root) + 1 :].replace(os.sep, "/") for g in got] == ["d1/x.txt", "d2/x.txt"]
    with pytest.raises(LukeError, match="no input matches"):
        storage.expand(storage.join(root, "nothing*"))
    # a dump's parts in their order: articles2 before articles10
    for number in (10, 2, 1):
        storage.write_text(storage.join(root, "parts", f"articles{number}.xml-p{number}.bz2"), "")
    got = [storage.basename(g) for g in storage.expand(storage.join(root, "parts", "*.bz2"))]
    assert got == ["articles1.xml-p1.bz2", "articles2.xml-p2.bz2", "articles10.xml-p10.bz2"]


def test_missing_input_names_the_file(root):
    uri = storage.join(root, "missing.xml")
    with pytest.raises(LukeError, match="missing.xml"):
        storage.read_bytes(uri)
    with pytest.raises(LukeError, match="missing.xml"):
        storage.local_copy(uri)


def test_local_copy_of_s3_object_is_cached_by_etag(s3):
    uri = s3 + "/db.sqlite"
    storage.write_bytes(uri, b"one")
    first = storage.local_copy(uri)
    assert open(first, "rb").read() == b"one"
    storage.write_bytes(uri, b"two!")
    assert open(storage.local_copy(uri), "rb").read() == b"two!"


def test_wrong_credentials_give_a_clear_error(s3, monkeypatch):
    storage.write_bytes(s3 + "/x", b"secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    storage._clients.clear()
    with pytest.raises(LukeError, match="access denied"):
        storage.read_bytes(s3 + "/x")
