"""Segment tokenisation against independent implementations of what the reference did
with transformers 4's slow tokenizers: a pure-Python byte-level BPE over roberta-base's
vocab.json and merges.txt, and the `sentencepiece` library with fairseq's id offset for
XLM-R."""

from __future__ import annotations

import itertools
import json
import os
import re

import pytest
import regex

from luke_core.dataset.building.tokenization import SegmentTokenizer
from luke_core.dataset.tokenizers import (
    BYTE_LEVEL_BPE,
    SENTENCEPIECE,
    load_tokenizer,
    save_tokenizer,
    tokenizer_class_name,
)
from luke_core.dump_db import DumpDB
from luke_core.errors import LukeError
from luke_testing.dataset_inputs import enwiki_dump_db, roberta_dir, xlmr_dir

GPT2_PATTERN = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)


def _bytes_to_unicode() -> dict[int, str]:
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    mapping, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            mapping[byte] = chr(byte)
        else:
            mapping[byte] = chr(256 + extra)
            extra += 1
    return mapping


class ReferenceRoberta:
    """GPT-2 byte-level BPE as the slow RobertaTokenizer ran it, plus LUKE's segment rule."""

    def __init__(self, folder: str):
        with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
            self.vocab = json.load(f)
        with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
            merges = [tuple(line.split()) for line in f.read().splitlines()[1:] if line]
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.byte_encoder = _bytes_to_unicode()

    def bpe(self, word: str) -> list[str]:
        parts = list(word)
        while len(parts) > 1:
            pairs = [
                (self.ranks.get(p, 1 << 30), i) for i, p in enumerate(itertools.pairwise(parts))
            ]
            rank, i = min(pairs)
            if rank == 1 << 30:
                break
            first, second = parts[i], parts[i + 1]
            merged, j = [], 0
            while j < len(parts):
                if j < len(parts) - 1 and parts[j] == first and parts[j + 1] == second:
                    merged.append(first + second)
                    j += 2
                else:
                    merged.append(parts[j])
                    j += 1
            parts = merged
        return parts

    def segment(self, text: str, follows_space: bool) -> list[int]:
        # LUKE: tokenize(text, add_prefix_space=cur == 0 or text.startswith(" ") or prev == " ")
        add_prefix_space = follows_space or text.startswith(" ")
        text = re.sub(r"\s+", " ", text).rstrip()
        if not text:
            return []
        if add_prefix_space and not text[0].isspace():  # RobertaTokenizer's rule
            text = " " + text
        ids = []
        for token in GPT2_PATTERN.findall(text):
            word = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.vocab[piece] for piece in self.bpe(word))
        return ids


class ReferenceXlmr:
    """SentencePiece as the slow XLMRobertaTokenizer ran it (fairseq ids), plus LUKE's rule:
    a segment without prefix space is encoded as "龘" + text, the first two pieces dropped."""

    def __init__(self, folder: str):
        import sentencepiece

        self.sp = sentencepiece.SentencePieceProcessor(
            model_file=os.path.join(folder, "sentencepiece.bpe.model")
        )

    def fairseq_id(self, piece_id: int) -> int:
        return 3 if piece_id == self.sp.unk_id() else piece_id + 1

    def segment(self, text: str, follows_space: bool) -> list[int]:
        add_prefix_space = follows_space or text.startswith(" ")
        text = re.sub(r"\s+", " ", text).rstrip()
        if not text:
            return []
        pieces = self.sp.encode(text) if add_prefix_space else self.sp.encode("龘" + text)[2:]
        return [self.fairseq_id(p) for p in pieces]


HAND_MADE_SENTENCES = [
    # (text, follows a space) per segment: links cut a sentence into such segments
    [("The city of ", True), ("Paris", True), ("ian cuisine, and ", False), ("France", True)],
    [
        ("Tokyo", True),
        ("'s", False),
        (" population is ", False),
        ("13,960,000", True),
        (".", False),
    ],
    [("  multiple\t\tspaces\nand a newline   ", True), ("link", True), ("\u00a0nbsp", False)],
    [("emoji 😀 and 𠀀 CJK-B ", True), ("😀start", True), ("𝔚ashington", False), ("!", False)],
    [("Literal <mask> and <s> and </s> stay text ", True), ("<mask>", True)],
    [("   ", True), ("1990s", True), ("-era", False), ("café", True), ("naïve", False)],
    [("東京", True), ("都の人口", False), ("。", False), ("Москва", True), ("́", False)],
    [("مرحبا", True), (" بالعالم", False), ("नमस्ते", True), ("दुनिया", False)],
]


def real_segments(limit: int = 3000) -> list[list[tuple[str, bool]]]:
    """Sentences of the real enwiki fragment cut at their links (paragraph = sentence)."""
    sentences = []
    with DumpDB(enwiki_dump_db()) as db:
        for page in db.iter_pages(0, 20):
            for p in page.paragraphs:
                segments, cursor = [], 0
                for link in p.links:
                    if link.start < cursor:
                        continue
                    for start, end in ((cursor, link.start), (link.start, link.end)):
                        if start < end:
                            segments.append(
                                (p.text[start:end], start == 0 or p.text[start - 1] == " ")
                            )
                    cursor = link.end
                if cursor < len(p.text):
                    segments.append((p.text[cursor:], cursor == 0 or p.text[cursor - 1] == " "))
                sentences.append(segments)
                if sum(map(len, sentences)) > limit:
                    return sentences
    return sentences


@pytest.fixture(scope="module")
def roberta():
    return load_tokenizer(roberta_dir())


@pytest.fixture(scope="module")
def xlmr():
    return load_tokenizer(xlmr_dir())


def assert_segments_match(tokenizer, reference, sentences) -> int:
    """Each segment's ids equal the reference's; returns the number of tokens compared."""
    encoded = tokenizer.encode(sentences)
    tokens = 0
    for segments, (ids, bounds) in zip(sentences, encoded, strict=True):
        assert bounds[0] == 0 and bounds[-1] == len(ids)
        expected = [reference.segment(text, follows) for text, follows in segments]
        got = [ids[bounds[i] : bounds[i + 1]] for i in range(len(segments))]
        assert got == expected, segments
        tokens += len(ids)
    return tokens


def test_roberta_segments_equal_the_slow_tokenizer_rules(roberta):
    segmenter = SegmentTokenizer(roberta)
    assert segmenter.scheme == BYTE_LEVEL_BPE
    assert_segments_match(segmenter, ReferenceRoberta(roberta_dir()), HAND_MADE_SENTENCES)


def test_roberta_prefix_space_rules(roberta):
    segmenter = SegmentTokenizer(roberta)
    ids = segmenter.encode_segments([("Paris", True), ("ian", False), ("s", True)])
    pieces = [roberta.convert_ids_to_tokens(x) for x in ids]
    assert pieces == [["ĠParis"], ["ian"], ["Ġs"]]
    # special tokens are text here; the slow tokenizer made "<mask>" the mask token
    (mask_text,) = segmenter.encode_segments([("<mask>", True)])
    assert roberta.mask_token_id not in mask_text
    assert roberta.decode(mask_text) == " <mask>"


def test_roberta_real_segments(roberta):
    tokens = assert_segments_match(
        SegmentTokenizer(roberta), ReferenceRoberta(roberta_dir()), real_segments()
    )
    assert tokens > 20_000


def test_xlmr_segments_equal_the_slow_tokenizer_rules(xlmr):
    segmenter = SegmentTokenizer(xlmr)
    assert segmenter.scheme == SENTENCEPIECE
    assert_segments_match(segmenter, ReferenceXlmr(xlmr_dir()), HAND_MADE_SENTENCES)


def test_xlmr_real_segments(xlmr):
    tokens = assert_segments_match(
        SegmentTokenizer(xlmr), ReferenceXlmr(xlmr_dir()), real_segments()
    )
    assert tokens > 20_000


def test_xlmr_marker_pieces(xlmr):
    reference = ReferenceXlmr(xlmr_dir())
    # the two pieces the reference drops: "▁" and the unknown marker itself
    pieces = reference.sp.encode("龘ian", out_type=str)
    assert pieces[:2] == ["▁", "龘"] and reference.sp.piece_to_id("龘") == reference.sp.unk_id()
    segmenter = SegmentTokenizer(xlmr)
    (ids,) = segmenter.encode_segments([("ian", False)])
    assert ids == reference.segment("ian", False)
    assert xlmr.convert_ids_to_tokens(ids)[0] != "▁"


def test_xlmr_segment_starting_with_unknown_characters_keeps_them(xlmr):
    """SentencePiece fuses unknown characters with the marker into one <unk>: the
    reference dropped it with the marker; here the segment keeps its <unk>."""
    reference = ReferenceXlmr(xlmr_dir())
    assert reference.sp.encode("龘𠀀abc", out_type=str)[1] == "龘𠀀"
    (ids,) = SegmentTokenizer(xlmr).encode_segments([("𠀀abc", False)])
    assert ids == [xlmr.unk_token_id, *reference.segment("𠀀abc", False)]


def test_whitespace_only_segments_have_no_tokens(roberta):
    ids, bounds = SegmentTokenizer(roberta).encode([[(" \t ", True), ("a", False), ("\n", False)]])[
        0
    ]
    assert bounds == [0, 0, len(ids), len(ids)] and len(ids) == 1
    assert SegmentTokenizer(roberta).encode([[], [(" ", True)]]) == [([], [0]), ([], [0, 0])]


def test_segment_tokenizer_pickles(roberta):
    import pickle

    segmenter = pickle.loads(pickle.dumps(SegmentTokenizer(roberta)))
    assert segmenter.encode_segments([("Paris", True)]) == [roberta(" Paris")["input_ids"][1:-1]]


@pytest.mark.parametrize("name", ["roberta", "xlmr"])
def test_saved_tokenizer_reloads_identically(name, request, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = request.getfixturevalue(name)
    save_tokenizer(tokenizer, str(tmp_path / "tokenizer"))
    reloaded = AutoTokenizer.from_pretrained(str(tmp_path / "tokenizer"))
    assert tokenizer_class_name(reloaded) == tokenizer_class_name(tokenizer)
    sentences = HAND_MADE_SENTENCES
    assert SegmentTokenizer(reloaded).encode(sentences) == SegmentTokenizer(tokenizer).encode(
        sentences
    )
    text = "LUKE reads Wikipedia: 東京 😀 <mask>"
    assert reloaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    files = set(os.listdir(tmp_path / "tokenizer"))
    originals = {"vocab.json", "merges.txt"} if name == "roberta" else {"sentencepiece.bpe.model"}
    assert originals <= files


def test_folder_with_original_files_only_loads(tmp_path):
    """roberta-base's files without config.json load as RoBERTa (the class from the files)."""
    import shutil

    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(roberta_dir(), name), tmp_path / name)
    tokenizer = load_tokenizer(str(tmp_path))
    assert tokenizer_class_name(tokenizer) == "RobertaTokenizer"
    assert tokenizer(" Paris", add_special_tokens=False)["input_ids"] == [2201]


def test_missing_or_empty_tokenizer_folder(tmp_path):
    with pytest.raises(LukeError, match="tokenizer folder not found"):
        load_tokenizer(str(tmp_path / "nothing"))
    with pytest.raises(LukeError, match="no tokenizer files"):
        load_tokenizer(str(tmp_path))


def test_wordpiece_tokenizer_is_refused(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]").save_pretrained(
        str(tmp_path)
    )
    with pytest.raises(LukeError, match="neither a byte-level BPE"):
        load_tokenizer(str(tmp_path))
