"""build_entity_vocab on hand-built dump databases with known counts, and on a random one
checked against a brute-force count written here."""

import random
from collections import Counter

import pytest

from luke_core import storage
from luke_core.entity_vocab.build import BuildEntityVocabOptions, build_entity_vocab
from luke_core.entity_vocab.vocab import EntityVocab
from luke_core.errors import LukeError
from luke_testing.entity_data import write_dump_db

PAGES = {
    "Alpha": ["Beta", "R1", "Gamma", "Beta", "Category:Things"],
    "Beta": ["Alpha", "R2", "Missing page", "Loop1"],
    "Gamma": ["Beta", "Alpha", "Delta"],
    "Delta": ["Gamma"],
    # a namespace-0 row titled like a category: never an entity, even if stored
    "Category:Things": ["Alpha"],
    "Epsilon": [],
}
REDIRECTS = {
    "R1": "R2",  # a chain: R1 -> R2 -> Beta
    "R2": "Beta",
    "Loop1": "Loop2",
    "Loop2": "Loop1",
    "Redirect to gamma": "Gamma",
}
# Beta: 2 direct + R1 (Alpha), R2 (Beta), 1 (Gamma); Alpha: Beta, Gamma, Category:Things
EXPECTED = [("Beta", 5), ("Alpha", 3), ("Gamma", 2), ("Delta", 1)]


@pytest.fixture
def dump_db(tmp_path):
    path = str(tmp_path / "dump.db")
    write_dump_db(path, PAGES, REDIRECTS)
    return path


def build(dump_db, out, **options):
    options = {"processes": 2, "progress": False, **options}
    return build_entity_vocab(str(dump_db), str(out), BuildEntityVocabOptions(**options))


def entities(lines):
    return [(line["entities"][0][0], line["count"]) for line in lines[3:]]


def test_counts_follow_redirect_chains_and_skip_non_articles(dump_db, tmp_path, vocab_invariants):
    out = tmp_path / "vocab.jsonl"
    summary = build(dump_db, out)
    lines = vocab_invariants(str(out))
    assert entities(lines) == EXPECTED
    assert lines[0] == {"id": 0, "entities": [["[PAD]", None]], "count": 0}
    assert (summary.pages, summary.links) == (6, 14)
    assert summary.links_via_redirects == 2  # R1 and R2
    assert summary.links_to_non_articles == 3  # Category:Things, Missing page, Loop1
    assert (summary.distinct_targets, summary.distinct_entities) == (9, 4)
    assert (summary.entries, summary.truncated, summary.dump_language) == (7, 0, "en")


def test_result_does_not_depend_on_the_number_of_processes(dump_db, tmp_path):
    outputs = []
    for processes in (1, 2, 3):
        out = tmp_path / f"vocab{processes}.jsonl"
        build(dump_db, out, processes=processes)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


def test_ties_are_ordered_by_title(tmp_path, vocab_invariants):
    targets = ["Zulu", "alpha", "Éclair", "Mike", "Bravo"]
    pages = {title: [] for title in targets} | {"Hub": [*targets, "Mike"]}
    path = str(tmp_path / "dump.db")
    write_dump_db(path, pages)
    build(path, tmp_path / "vocab.jsonl")
    lines = vocab_invariants(str(tmp_path / "vocab.jsonl"))
    assert entities(lines) == [("Mike", 2), ("Bravo", 1), ("Zulu", 1), ("alpha", 1), ("Éclair", 1)]


def test_vocab_size_counts_the_specials(dump_db, tmp_path):
    summary = build(dump_db, tmp_path / "vocab.jsonl", vocab_size=5)
    vocab = EntityVocab.load(str(tmp_path / "vocab.jsonl"))
    assert len(vocab) == 5 and summary.entries == 5
    assert [vocab.get_title(i) for i in (3, 4)] == ["Beta", "Alpha"]
    assert summary.truncated == 2


def test_min_count(dump_db, tmp_path, vocab_invariants):
    summary = build(dump_db, tmp_path / "vocab.jsonl", min_count=3)
    assert entities(vocab_invariants(str(tmp_path / "vocab.jsonl"))) == EXPECTED[:2]
    assert summary.below_min_count == 2


def test_language_is_written_on_every_entry(dump_db, tmp_path, vocab_invariants):
    summary = build(dump_db, tmp_path / "vocab.jsonl", language="en")
    lines = vocab_invariants(str(tmp_path / "vocab.jsonl"))
    assert {lang for line in lines for _, lang in line["entities"]} == {"en"}
    assert summary.language == "en"
    vocab = EntityVocab.load(str(tmp_path / "vocab.jsonl"))
    assert vocab.get_id("Beta", "en") == vocab.get_id("Beta") == 3


def write_list(tmp_path, name, *titles):
    path = tmp_path / name
    path.write_text("\n".join(titles) + "\n\n", encoding="utf-8")
    return str(path)


def test_white_list_goes_first_normalised_and_redirects_followed(
    dump_db, tmp_path, vocab_invariants
):
    first = write_list(tmp_path, "a.txt", "gamma", "Redirect_to_gamma", "Epsilon", "Missing page")
    second = write_list(tmp_path, "b.txt", "Category:Things", " Delta ")
    summary = build(dump_db, tmp_path / "vocab.jsonl", white_lists=(first, second), min_count=3)
    lines = vocab_invariants(str(tmp_path / "vocab.jsonl"), blocks=(6,))
    # white-listed by count (Epsilon is never linked: kept, count 0), then the rest
    # (min-count applies to them only)
    assert entities(lines) == [
        ("Gamma", 2),
        ("Delta", 1),
        ("Epsilon", 0),
        ("Beta", 5),
        ("Alpha", 3),
    ]
    assert summary.white_listed == 3
    assert summary.white_list_not_found == 2  # Missing page, Category:Things


def test_white_list_only(dump_db, tmp_path):
    white = write_list(tmp_path, "w.txt", "Delta", "Alpha")
    build(dump_db, tmp_path / "vocab.jsonl", white_lists=(white,), white_list_only=True)
    vocab = EntityVocab.load(str(tmp_path / "vocab.jsonl"))
    assert [(e.title, e.count) for e in vocab.entries[3:]] == [("Alpha", 3), ("Delta", 1)]


def test_a_white_list_larger_than_the_vocabulary_is_an_error(dump_db, tmp_path):
    white = write_list(tmp_path, "w.txt", "Delta", "Alpha")
    out = tmp_path / "vocab.jsonl"
    with pytest.raises(LukeError, match=r"w\.txt: the white lists hold 2 articles.*vocab-size 4"):
        build(dump_db, out, white_lists=(white,), vocab_size=4)
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"vocab_size": 3}, "--vocab-size must be at least 4"),
        ({"min_count": -1}, "--min-count"),
        ({"processes": 0}, "processes"),
        ({"white_list_only": True}, "--white-list-only needs"),
        ({"language": "en:x"}, "not a language code"),
        ({"language": ""}, "not a language code"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(LukeError, match=message):
        BuildEntityVocabOptions(**options)


def test_bad_inputs_name_the_file_and_write_nothing(dump_db, tmp_path):
    out = tmp_path / "vocab.jsonl"
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 200)
    vocab_file = tmp_path / "some_vocab.jsonl"
    vocab_file.write_text('{"id": 0, "entities": [["[PAD]", null]], "count": 0}\n')
    for bad, message in [
        (tmp_path / "missing.db", "missing.db: no such file"),
        (text, "notes.txt: not a dump database"),
        (vocab_file, "some_vocab.jsonl: not a dump database"),
    ]:
        with pytest.raises(LukeError, match=message):
            build(bad, out)
    with pytest.raises(LukeError, match="nope.txt: white list not found"):
        build(dump_db, out, white_lists=(str(tmp_path / "nope.txt"),))
    assert not out.exists()


def test_an_existing_output_is_replaced_only_on_success(dump_db, tmp_path):
    out = tmp_path / "vocab.jsonl"
    out.write_text("old\n")
    with pytest.raises(LukeError):
        build(dump_db, out, white_lists=(str(tmp_path / "nope.txt"),))
    assert out.read_text() == "old\n"
    build(dump_db, out)
    assert len(EntityVocab.load(str(out))) == 7


def brute_force_counts(pages, redirects):
    """Count every link, following redirect chains by hand, articles only."""

    def resolve(title):
        seen = set()
        while title in redirects and title not in seen:
            seen.add(title)
            title = redirects[title]
        return None if title in seen else title

    counts = Counter()
    for targets in pages.values():
        for target in targets:
            final = resolve(target)
            if final in pages and not final.startswith("Category:"):
                counts[final] += 1
    return counts


def test_random_database_agrees_with_a_brute_force_count(tmp_path, vocab_invariants):
    rng = random.Random(7)
    titles = [f"T{i}" for i in range(300)]
    redirect_titles = [f"R{i}" for i in range(120)]
    redirects = {r: rng.choice(titles + redirect_titles) for r in redirect_titles}
    pool = titles + redirect_titles + ["Missing", "Category:X"]
    pages = {t: [rng.choice(pool) for _ in range(rng.randrange(0, 40))] for t in titles}
    path = str(tmp_path / "dump.db")
    write_dump_db(path, pages, redirects)
    build(path, tmp_path / "vocab.jsonl", processes=3)
    lines = vocab_invariants(str(tmp_path / "vocab.jsonl"))
    expected = brute_force_counts(pages, redirects)
    assert dict(entities(lines)) == dict(expected)
    assert entities(lines) == sorted(expected.items(), key=lambda tc: (-tc[1], tc[0]))


def test_s3_round_trip(dump_db, tmp_path, s3):
    storage.upload_file(dump_db, f"{s3}/in/dump.db")
    white = write_list(tmp_path, "w.txt", "Delta")
    storage.upload_file(white, f"{s3}/in/white.txt")
    build(f"{s3}/in/dump.db", f"{s3}/out/vocab.jsonl", white_lists=(f"{s3}/in/white.txt",))
    vocab = EntityVocab.load(f"{s3}/out/vocab.jsonl")
    assert [(e.title, e.count) for e in vocab.entries[3:]] == [("Delta", 1), *EXPECTED[:3]]
