"""Sentence splitters: ICU (PyICU) and OpenNLP (pyjnius + Debian's jar), offsets in code
points whatever the text, clear errors for a bad choice."""

from __future__ import annotations

import itertools
import zipfile

import pytest

from luke_core.dataset.building.options import BuildDatasetOptions
from luke_core.dataset.building.sentences import (
    ICUSentenceSplitter,
    OpenNLPSentenceSplitter,
    _utf16_to_code_points,
    resolve_splitter,
)
from luke_core.dump_db import DumpDB
from luke_core.errors import LukeError
from luke_testing.dataset_inputs import enwiki_dump_db, opennlp_model

NON_BMP = (
    "I like 😀 emoji. 𠀀𠀁 is CJK extension B text. Mr. Smith went to 𝔚ashington.  It rained 🌧. "
)


def utf16_spans_to_code_points(text: str, spans) -> list[tuple[int, int]]:
    """Independent conversion: slice the UTF-16 encoding and measure in code points."""
    data = text.encode("utf-16-le")

    def convert(offset: int) -> int:
        return len(data[: 2 * offset].decode("utf-16-le"))

    return [(convert(s), convert(e)) for s, e in spans]


def test_icu_english_keeps_abbreviations_and_includes_trailing_space():
    text = "Mr. Smith went to Washington. It rained.  Then it stopped."
    spans = ICUSentenceSplitter("en").split(text)
    assert [text[s:e] for s, e in spans] == [
        "Mr. Smith went to Washington. ",
        "It rained.  ",
        "Then it stopped.",
    ]


def test_icu_offsets_are_code_points_outside_the_bmp():
    import icu

    spans = ICUSentenceSplitter("en").split(NON_BMP)
    breaker = icu.BreakIterator.createSentenceInstance(icu.Locale("en@ss=standard"))
    breaker.setText(NON_BMP)
    bounds = [0, *breaker]
    utf16 = list(itertools.pairwise(bounds))
    assert spans == utf16_spans_to_code_points(NON_BMP, utf16)
    assert spans[-1][1] == len(NON_BMP)
    sentences = [NON_BMP[s:e].strip() for s, e in spans]
    assert sentences[0] == "I like 😀 emoji."
    assert sentences[1].startswith("𠀀𠀁 is CJK")
    assert "".join(NON_BMP[s:e] for s, e in spans) == NON_BMP


def test_utf16_conversion_of_offsets():
    text = "a😀b𠀀c"
    # UTF-16 units: a=0, 😀=1-2, b=3, 𠀀=4-5, c=6, end=7
    assert _utf16_to_code_points(text, [0, 1, 3, 4, 6, 7]) == [0, 1, 2, 3, 4, 5]


def test_icu_japanese():
    text = "東京は日本の首都です。大阪も大きい！本当？はい"
    spans = ICUSentenceSplitter("ja").split(text)
    assert [text[s:e] for s, e in spans] == [
        "東京は日本の首都です。",
        "大阪も大きい！",
        "本当？",
        "はい",
    ]


def test_empty_text_has_no_sentences():
    assert ICUSentenceSplitter("en").split("") == []


@pytest.mark.parametrize("name", ["klingon", "xx", "simple"])
def test_unknown_icu_locale_is_an_error(name):
    with pytest.raises(LukeError, match="unknown sentence splitter"):
        resolve_splitter(name)


def test_opennlp_needs_a_model(monkeypatch, tmp_path):
    monkeypatch.delenv("LUKE_OPENNLP_MODEL", raising=False)
    with pytest.raises(LukeError, match="--opennlp-model"):
        resolve_splitter("opennlp")
    with pytest.raises(LukeError, match="model not found"):
        resolve_splitter("opennlp", str(tmp_path / "missing-sent.bin"))
    not_a_model = tmp_path / "en-sent.bin"
    not_a_model.write_text("hello")
    with pytest.raises(LukeError, match=r"not an OpenNLP sentence model \(not a zip file"):
        resolve_splitter("opennlp", str(not_a_model))
    tokenizer_model = tmp_path / "en-token.bin"
    with zipfile.ZipFile(tokenizer_model, "w") as archive:
        archive.writestr("manifest.properties", "Component-Name=TokenizerME\n")
        archive.writestr("token.model", b"")
    with pytest.raises(LukeError, match="names the component TokenizerME, not SentenceDetector"):
        resolve_splitter("opennlp", str(tokenizer_model))


def test_opennlp_model_from_the_environment(monkeypatch):
    model = opennlp_model()
    monkeypatch.setenv("LUKE_OPENNLP_MODEL", model)
    options = BuildDatasetOptions(sentence_splitter="opennlp")
    assert options.resolved_opennlp_model == model
    assert resolve_splitter("opennlp", options.resolved_opennlp_model).opennlp_model == model
    own = BuildDatasetOptions(sentence_splitter="opennlp", opennlp_model="/elsewhere/en-sent.bin")
    assert own.resolved_opennlp_model == "/elsewhere/en-sent.bin"
    assert BuildDatasetOptions(sentence_splitter="en").resolved_opennlp_model is None


def test_opennlp_spans_equal_sentpos_detect_on_real_paragraphs():
    splitter = OpenNLPSentenceSplitter(opennlp_model())
    with DumpDB(enwiki_dump_db()) as db:
        paragraphs = [p.text.rstrip() for page in db.iter_pages(0, 25) for p in page.paragraphs]
    assert len(paragraphs) > 100
    sentences = 0
    for text in paragraphs:
        spans = splitter.split(text)
        assert spans == utf16_spans_to_code_points(text, splitter.pos_detect(text))
        sentences += len(spans)
    assert sentences > len(paragraphs)


def test_opennlp_outside_the_bmp():
    splitter = OpenNLPSentenceSplitter(opennlp_model())
    spans = splitter.split(NON_BMP)
    assert spans == utf16_spans_to_code_points(NON_BMP, splitter.pos_detect(NON_BMP))
    assert NON_BMP[spans[0][0] : spans[0][1]] == "I like 😀 emoji."
    assert NON_BMP[spans[-1][0] : spans[-1][1]] == "It rained 🌧."


def test_workers_spawn_once_this_process_runs_a_jvm():
    """A forked child cannot use its parent's JVM: the builder then spawns its workers."""
    from luke_core.parallel import process_context

    OpenNLPSentenceSplitter(opennlp_model())
    assert process_context().get_start_method() == "spawn"
