"""`luke inspect` of an exported Hugging Face model folder (kind `huggingface_model`: a folder
whose config.json has `model_type` "luke"): the model's sizes from its config, the weights
from the safetensors header (no tensor is read), the tokenizer files, where it came from."""

from __future__ import annotations

import json
import struct
from typing import Any

from luke_core import storage
from luke_core.errors import LukeError

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "entity_vocab.json",
)


def describe_huggingface_model(uri: str, options) -> dict[str, Any]:
    config = storage.read_json(storage.join(uri, "config.json"))
    if config.get("model_type") != "luke":
        raise LukeError(f"{uri}: config.json describes a {config.get('model_type')!r} model")
    files = {storage.basename(f): storage.size(f) for f in storage.list_files(uri)}
    tokenizer_config = _optional_json(uri, "tokenizer_config.json") or {}
    entity_vocab = _optional_json(uri, "entity_vocab.json")
    out = {
        "model": {
            key: config.get(key)
            for key in (
                "architectures",
                "bert_model_name",
                "vocab_size",
                "entity_vocab_size",
                "hidden_size",
                "entity_emb_size",
                "num_hidden_layers",
                "use_entity_aware_attention",
            )
        },
        "tokenizer_class": tokenizer_config.get("tokenizer_class"),
        "tokenizer_files": [name for name in TOKENIZER_FILES if name in files],
        "entity_vocab_entries": len(entity_vocab) if entity_vocab is not None else None,
        "weights": _weights(uri) if "model.safetensors" in files else None,
        "model_card": "README.md" in files,
        "export": _optional_json(uri, "luke_export.json"),
        "files": files,
    }
    return out


def _optional_json(uri: str, name: str):
    path = storage.join(uri, name)
    return storage.read_json(path) if storage.is_file(path) else None


def _weights(uri: str) -> dict[str, Any]:
    """Tensors, parameters and dtypes from the safetensors header (8-byte length + JSON)."""
    path = storage.join(uri, "model.safetensors")
    with storage.open_input(path) as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    parameters = 0
    for info in tensors.values():
        count = 1
        for dim in info["shape"]:
            count *= dim
        parameters += count
    return {
        "tensors": len(tensors),
        "parameters": parameters,
        "dtypes": sorted({info["dtype"] for info in tensors.values()}),
    }
