"""Dataset directories on S3 (a real SeaweedFS server): shards fetched on demand into a
content-addressed cache, checksums verified, corrupt or truncated shards named."""

from __future__ import annotations

import numpy as np
import pytest

from luke_core import storage
from luke_core.dataset.format import file_sha256, load_metadata
from luke_core.dataset.loading.loader import PretrainingLoader
from luke_core.errors import LukeError
from luke_testing.pretraining_data import (
    save_tiny_tokenizer,
    synthetic_instances,
    unmasked_instances,
    write_dataset,
)


@pytest.fixture(scope="module")
def local_parts(tmp_path_factory):
    root = tmp_path_factory.mktemp("s3-data")
    tokenizer = save_tiny_tokenizer(str(root / "tokenizer"))
    pool = [i for i in range(len(tokenizer)) if i not in set(tokenizer.all_special_ids)]
    items = synthetic_instances(96, word_ids=pool, rng=np.random.default_rng(0))
    return str(root / "tokenizer"), items


@pytest.fixture
def s3_dataset(s3, local_parts):
    tokenizer_dir, items = local_parts
    uri = f"{s3}/datasets/enwiki"
    write_dataset(uri, items, tokenizer_dir=tokenizer_dir, items_per_shard=20)
    return uri, {item.page_id: item for item in items}


def replace_object(uri: str, data: bytes) -> None:
    bucket, key = storage.split_s3(uri)
    storage.s3_client().put_object(Bucket=bucket, Key=key, Body=data)


def test_s3_dataset_across_ranks_and_workers(s3_dataset, tmp_path):
    uri, instances = s3_dataset
    cache = tmp_path / "cache"
    pages = []
    for rank in (0, 1):
        loader = PretrainingLoader(
            [uri], batch_size=4, rank=rank, world_size=2, num_workers=2, cache_dir=str(cache)
        )
        for batch in loader:
            for row in unmasked_instances(batch):
                assert row == instances[row.page_id]
                pages.append(row.page_id)
    assert sorted(pages) == sorted(instances)
    shards = load_metadata(uri).shards
    cached = sorted(p.name for p in cache.glob("*.arrow"))
    assert cached == sorted(f"{s.sha256}.arrow" for s in shards)
    assert all(file_sha256(str(cache / name)) == name.removesuffix(".arrow") for name in cached)
    assert not [p for p in cache.iterdir() if ".tmp-" in p.name]


def test_cached_shards_are_not_fetched_again(s3_dataset, tmp_path):
    uri, _ = s3_dataset
    cache = str(tmp_path / "cache")
    first = [b["page_id"].tolist() for b in PretrainingLoader([uri], batch_size=4, cache_dir=cache)]
    for shard in load_metadata(uri).shards:  # the objects change; the verified copies stay
        replace_object(f"{uri}/{shard.name}", b"spoiled")
    again = [b["page_id"].tolist() for b in PretrainingLoader([uri], batch_size=4, cache_dir=cache)]
    assert again == first


def test_corrupt_s3_shard_is_named_and_never_cached(s3_dataset, tmp_path):
    uri, _ = s3_dataset
    shard = load_metadata(uri).shards[3]
    data = bytearray(storage.read_bytes(f"{uri}/{shard.name}"))
    data[100] ^= 0x01
    replace_object(f"{uri}/{shard.name}", bytes(data))
    cache = tmp_path / "cache"
    loader = PretrainingLoader([uri], batch_size=4, num_workers=2, cache_dir=str(cache))
    with pytest.raises(LukeError, match=rf"{uri}/{shard.name}: checksum mismatch"):
        list(loader)
    assert not (cache / f"{shard.sha256}.arrow").exists()
    assert not [p for p in cache.iterdir() if ".tmp-" in p.name]


def test_truncated_s3_shard(s3_dataset, tmp_path):
    uri, _ = s3_dataset
    shard = load_metadata(uri).shards[0]
    replace_object(f"{uri}/{shard.name}", storage.read_bytes(f"{uri}/{shard.name}")[:-10])
    loader = PretrainingLoader([uri], batch_size=4, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(LukeError, match=rf"{shard.name}: {shard.bytes - 10} bytes where"):
        list(loader)


def test_s3_glob_and_resume(s3_dataset, tmp_path):
    uri, _ = s3_dataset
    pattern = uri.rsplit("/", 1)[0] + "/*"
    reference = list(PretrainingLoader([pattern], batch_size=4, num_workers=2, seed=4))
    loader = PretrainingLoader([pattern], batch_size=4, num_workers=2, seed=4)
    loader.load_state_dict({**loader.state_dict(), "position": 5})
    rest = list(loader)
    assert [b["page_id"].tolist() for b in rest] == [b["page_id"].tolist() for b in reference[5:]]
    assert all(
        (b["word_ids"] == r["word_ids"]).all() for b, r in zip(rest, reference[5:], strict=True)
    )


def test_cache_limit_evicts_old_shards(s3_dataset, tmp_path, monkeypatch):
    from luke_core.dataset.loading import cache as cache_module

    monkeypatch.setattr(cache_module, "EVICTION_GRACE_S", 0.0)
    uri, _ = s3_dataset
    shards = load_metadata(uri).shards
    limit = 2 * max(s.bytes for s in shards)
    cache = tmp_path / "cache"
    loader = PretrainingLoader([uri], batch_size=4, cache_dir=str(cache), cache_max_bytes=limit)
    assert len(list(loader)) == 24
    assert sum(p.stat().st_size for p in cache.glob("*.arrow")) <= limit


def _fetch_in_process(args):
    cache_dir, uri, shard = args
    from luke_core.dataset.loading.cache import ShardCache

    storage._clients.clear()
    return ShardCache(cache_dir).local_path(uri, shard)


def test_parallel_fetches_of_one_shard_publish_one_verified_file(s3_dataset, tmp_path):
    import multiprocessing

    uri, _ = s3_dataset
    shard = load_metadata(uri).shards[1]
    cache = str(tmp_path / "cache")
    with multiprocessing.get_context("fork").Pool(4) as pool:
        paths = pool.map(_fetch_in_process, [(cache, uri, shard)] * 8)
    assert set(paths) == {str(tmp_path / "cache" / f"{shard.sha256}.arrow")}
    assert file_sha256(paths[0]) == shard.sha256
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        f"{shard.sha256}.arrow",
        f"{shard.sha256}.lock",
    ]
