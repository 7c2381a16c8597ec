"""`luke build-entity-vocab`, `luke build-interwiki-db`, `luke build-multilingual-entity-vocab`.

Option names follow the reference (`-v/--entity-vocab-files`, `-i/--inter-wiki-db-path`,
`-o/--out-file`), with shorter spellings beside them."""

import click

from luke_core.cli_options import (
    default,
    options_of,
    processes_option,
    progress_option,
    reuse_option,
)
from luke_core.entity_vocab.build import BuildEntityVocabOptions
from luke_core.entity_vocab.interwiki import BuildInterwikiDbOptions
from luke_core.entity_vocab.multilingual import BuildMultilingualEntityVocabOptions
from luke_core.progress import summary_dict


@click.command("build-entity-vocab")
@click.argument("dump_db")
@click.argument("out")
@click.option(
    "--vocab-size",
    type=int,
    default=default(BuildEntityVocabOptions, "vocab_size"),
    show_default=True,
    help="Entries, the 3 special entries ([PAD], [UNK], [MASK]) included.",
)
@click.option(
    "--min-count",
    type=int,
    default=default(BuildEntityVocabOptions, "min_count"),
    show_default=True,
    help="Least link count.",
)
@click.option("--language", default=None, help="Language written on every entry (default null).")
@click.option(
    "-w",
    "--white-list",
    "white_lists",
    multiple=True,
    help="File of titles, one per line, that go first (repeatable).",
)
@click.option("--white-list-only", is_flag=True, help="Only the white-listed titles.")
@processes_option("--pool-size")
@reuse_option
@progress_option
def build_entity_vocab_command(dump_db, out, white_lists, **options) -> None:
    """Count the links of the dump database DUMP_DB (redirects resolved) and write the
    most linked articles as entity_vocab.jsonl at OUT; print the summary as JSON."""
    from luke_core.cli import echo_json
    from luke_core.entity_vocab.build import build_entity_vocab

    options = options_of(BuildEntityVocabOptions, white_lists=tuple(white_lists), **options)
    echo_json(summary_dict(build_entity_vocab(dump_db, out, options)))


@click.command("build-interwiki-db")
@click.argument("wikidata_dump")
@click.argument("out")
@click.option(
    "-l",
    "--language",
    "languages",
    multiple=True,
    help="Keep only this Wikipedia's titles (repeatable; default: all languages).",
)
@click.option(
    "--max-bad-lines",
    type=int,
    default=default(BuildInterwikiDbOptions, "max_bad_lines"),
    show_default=True,
    help="Malformed lines skipped before the build fails.",
)
@processes_option("--pool-size")
@reuse_option
@progress_option
def build_interwiki_db_command(wikidata_dump, out, languages, **options) -> None:
    """Stream the Wikidata JSON dump WIKIDATA_DUMP (.json, .bz2 or .gz; `-` for standard
    input) into an interwiki database at OUT: (title, language) <-> Wikidata item; print
    the summary as JSON."""
    from luke_core.cli import echo_json
    from luke_core.entity_vocab.interwiki import build_interwiki_db

    options = options_of(BuildInterwikiDbOptions, languages=tuple(languages), **options)
    echo_json(summary_dict(build_interwiki_db(wikidata_dump, out, options)))


@click.command("build-multilingual-entity-vocab")
@click.option(
    "-v",
    "--entity-vocab",
    "--entity-vocab-files",
    "vocabs",
    multiple=True,
    required=True,
    help="A per-language entity_vocab.jsonl (repeatable, one per language).",
)
@click.option(
    "-i",
    "--interwiki-db",
    "--inter-wiki-db-path",
    "interwiki_db",
    required=True,
    help="The interwiki database (luke build-interwiki-db).",
)
@click.option("-o", "--out", "--out-file", "out", required=True, help="Output entity_vocab.jsonl.")
@click.option(
    "--vocab-size",
    type=int,
    default=default(BuildMultilingualEntityVocabOptions, "vocab_size"),
    show_default=True,
    help="Entries, the 3 special entries included.",
)
@click.option(
    "--min-num-languages",
    type=int,
    default=default(BuildMultilingualEntityVocabOptions, "min_num_languages"),
    show_default=True,
    help="Keep entities present in at least this many languages.",
)
@reuse_option
@progress_option
def build_multilingual_entity_vocab_command(vocabs, interwiki_db, out, **options) -> None:
    """Merge per-language vocabularies through Wikidata items into one mLUKE vocabulary
    at OUT; print the summary as JSON."""
    from luke_core.cli import echo_json
    from luke_core.entity_vocab.multilingual import build_multilingual_entity_vocab

    options = options_of(BuildMultilingualEntityVocabOptions, **options)
    summary = build_multilingual_entity_vocab(list(vocabs), interwiki_db, out, options)
    echo_json(summary_dict(summary))


commands = [
    build_entity_vocab_command,
    build_interwiki_db_command,
    build_multilingual_entity_vocab_command,
]
