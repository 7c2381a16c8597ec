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


def test_output_dir_replaces_old_content_and_uploads_markers_last(root):
    uri = storage.join(root, "dataset")
    with storage.output_dir(uri, markers=["metadata.json"]) as tmp:
        for name in ("old.bin", "metadata.json"):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(name)
    with pytest.raises(RuntimeError), storage.output_dir(uri, markers=["metadata.json"]) as tmp:
        raise RuntimeError("crash")
    assert storage.read_text(storage.join(uri, "old.bin")) == "old.bin"
    with storage.output_dir(uri, markers=["metadata.json"]) as tmp:
        os.makedirs(os.path.join(tmp, "sub"))
        with open(os.path.join(tmp, "sub", "new.bin"), "w") as f:
            f.write("new")
        with open(os.path.join(tmp, "metadata.json"), "w") as f:
            f.write("{}")
    names = [f[len(uri) + 1 :] for f in storage.list_files(uri)]
    assert sorted(n.replace(os.sep, "/") for n in names) == ["metadata.json", "sub/new.bin"]


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
