"""Tokenizer files: loading a fast Hugging Face tokenizer by name, folder or s3:// prefix,
checked to be one of the two kinds LUKE trains with (byte-level BPE as RoBERTa's, SentencePiece
as XLM-R's), and saving it with the vocabulary files the Hugging Face export needs. Shared by
the dataset builder, the loader, training and the export."""

from __future__ import annotations

import logging
import os
import shutil

from luke_core import storage
from luke_core.errors import LukeError

logger = logging.getLogger(__name__)

BYTE_LEVEL_BPE = "byte_level_bpe"
SENTENCEPIECE = "sentencepiece"
XLMR_MARKER = "龘"
_CONFIG_FILES = ("tokenizer.json", "tokenizer_config.json", "config.json")
# files a folder may hold without a config naming the class; the class that reads them
_FALLBACK_CLASSES = (
    (("sentencepiece.bpe.model",), "XLMRobertaTokenizer"),
    (("vocab.json", "merges.txt"), "RobertaTokenizer"),
)


def load_tokenizer(name: str):
    """A fast Hugging Face tokenizer from a hub name, a local folder or an s3:// folder.

    A folder with only the original files (vocab.json + merges.txt, or
    sentencepiece.bpe.model) and no config loads as RoBERTa or XLM-R respectively."""
    import transformers

    path = _local_folder(name)
    if _is_path(name):
        _check_folder(name, path)
        if not any(os.path.isfile(os.path.join(path, f)) for f in _CONFIG_FILES):
            tokenizer = _load_by_files(path)
            if tokenizer is not None:
                return _checked(tokenizer, name)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError, KeyError) as exc:
        raise LukeError(f"{name}: cannot load a tokenizer ({_first_line(exc)})") from None
    return _checked(tokenizer, name)


def _checked(tokenizer, name: str):
    if not getattr(tokenizer, "is_fast", False):
        raise LukeError(f"{name}: {type(tokenizer).__name__} is no fast tokenizer")
    tokenizer_scheme(tokenizer, name)
    return tokenizer


def _is_path(name: str) -> bool:
    """A local or S3 folder rather than a hub name (`org/model`)."""
    return (
        storage.is_s3(name)
        or os.path.isabs(name)
        or name.startswith((".", "~"))
        or os.path.exists(name)
    )


def _check_folder(name: str, path: str) -> None:
    if not os.path.isdir(path):
        raise LukeError(f"{name}: tokenizer folder not found")
    known = _CONFIG_FILES + tuple(f for files, _ in _FALLBACK_CLASSES for f in files)
    if not any(os.path.isfile(os.path.join(path, f)) for f in known):
        raise LukeError(
            f"{name}: no tokenizer files in this folder (expected tokenizer.json, "
            "vocab.json and merges.txt, or sentencepiece.bpe.model)"
        )


def _local_folder(name: str) -> str:
    if not storage.is_s3(name):
        return os.path.expanduser(name)
    if not storage.exists(name):
        raise LukeError(f"{name}: tokenizer folder not found")
    target = storage.cache_dir() / "tokenizers" / name[len(storage.S3_PREFIX) :].strip("/")
    storage.download_dir(name, str(target))
    return str(target)


def _load_by_files(path: str):
    import transformers

    for files, class_name in _FALLBACK_CLASSES:
        if all(os.path.isfile(os.path.join(path, f)) for f in files):
            try:
                return getattr(transformers, class_name).from_pretrained(path)
            except (OSError, ValueError) as exc:
                raise LukeError(f"{path}: cannot load as {class_name} ({exc})") from None
    return None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def tokenizer_scheme(tokenizer, name: str = "") -> str:
    """Which of the reference's two segment rules applies, from the tokenizer's pipeline."""
    pre = repr(tokenizer.backend_tokenizer.pre_tokenizer)
    if "ByteLevel" in pre:
        return BYTE_LEVEL_BPE
    if "Metaspace" in pre:
        return SENTENCEPIECE
    raise LukeError(
        f"{name or tokenizer.name_or_path}: {type(tokenizer).__name__} is neither a byte-level "
        "BPE (RoBERTa) nor a SentencePiece (XLM-R) tokenizer, the two LUKE is trained with"
    )


def tokenizer_class_name(tokenizer) -> str:
    """The class name the reference records (`RobertaTokenizer`, `XLMRobertaTokenizer`)."""
    name = type(tokenizer).__name__
    return name.removesuffix("Fast")


def save_tokenizer(tokenizer, directory: str) -> None:
    """Write the tokenizer so that `AutoTokenizer.from_pretrained(directory)` reloads it,
    plus the original vocabulary files the Hugging Face export needs (LukeTokenizer reads
    vocab.json and merges.txt, MLukeTokenizer sentencepiece.bpe.model)."""
    tokenizer.save_pretrained(directory)
    copied = set()
    for key in ("vocab_file", "merges_file"):
        source = tokenizer.init_kwargs.get(key)
        if isinstance(source, str) and os.path.isfile(source):
            shutil.copyfile(source, os.path.join(directory, os.path.basename(source)))
            copied.add(os.path.basename(source))
    if tokenizer_scheme(tokenizer) == BYTE_LEVEL_BPE and "vocab.json" not in copied:
        # a tokenizer.json-only tokenizer: its BPE model writes vocab.json and merges.txt
        tokenizer.backend_tokenizer.model.save(directory)
    if tokenizer_scheme(tokenizer) == SENTENCEPIECE and not copied:
        logger.warning(
            "the tokenizer came without its sentencepiece.bpe.model; the dataset's tokenizer/ "
            "holds tokenizer.json only"
        )
