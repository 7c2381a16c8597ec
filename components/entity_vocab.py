"""Components of step 2: entity vocabulary, interwiki database, multilingual vocabulary."""

from kfp import dsl
from kfp.dsl import Artifact, Markdown, Metrics, Output

from luke_k8s.images import preprocess_image


@dsl.component(base_image=preprocess_image(), install_kfp_package=False)
def build_entity_vocab(
    dump_db_uri: str,
    work_dir: str,
    name: str,
    vocab_size: int,
    min_count: int,
    language: str,
    white_list_uris: list,
    white_list_only: bool,
    s3_endpoint: str,
    reuse_outputs: bool,
    metrics: Output[Metrics],
    top_entities: Output[Markdown],
    entity_vocab: Output[Artifact],
) -> str:
    """Count the links of a dump database into the vocabulary of the language `name` in the
    work dir. With `reuse_outputs` a vocabulary built from the same database and white lists
    (unchanged since) with the same options is kept."""
    from components.support import (
        log_metrics,
        setup,
        top_entities_markdown,
        write_markdown,
        write_pointer,
    )
    from luke_core.entity_vocab.build import BuildEntityVocabOptions, build_entity_vocab
    from luke_core.workdir import WorkDir

    setup(s3_endpoint)
    out = WorkDir(work_dir).entity_vocab(name)
    options = BuildEntityVocabOptions(
        vocab_size=vocab_size,
        min_count=min_count,
        language=language or None,
        white_lists=tuple(white_list_uris),
        white_list_only=white_list_only,
        reuse=reuse_outputs,
    )
    summary = build_entity_vocab(dump_db_uri, out, options)
    log_metrics(metrics, summary)
    write_markdown(top_entities, top_entities_markdown(out, f"Entity vocabulary {name}"))
    write_pointer(entity_vocab, out, "entity_vocab", entries=summary.entries,
                  reused=summary.reused)  # fmt: skip
    return out


@dsl.component(base_image=preprocess_image(), install_kfp_package=False)
def build_interwiki_db(
    wikidata_uri: str,
    work_dir: str,
    languages: list,
    wikipedias: list,
    max_bad_lines: int,
    s3_endpoint: str,
    reuse_outputs: bool,
    metrics: Output[Metrics],
    interwiki_db: Output[Artifact],
) -> str:
    """Stream a Wikidata JSON dump into the work dir's interwiki database, for `languages`
    (empty: those of `wikipedias`, the pipeline's list of {language, dump}). With
    `reuse_outputs` a database built from the same dump (not written since) for the same
    languages is kept: the full dump takes hours to read."""
    from components.support import check_wikipedias, log_metrics, setup, write_pointer
    from luke_core.entity_vocab.interwiki import BuildInterwikiDbOptions, build_interwiki_db
    from luke_core.workdir import WorkDir

    setup(s3_endpoint)
    out = WorkDir(work_dir).interwiki_db
    check_wikipedias(list(wikipedias))  # a run from the UI skips luke-pipeline's checks
    languages = list(languages) or [wiki["language"] for wiki in wikipedias]
    options = BuildInterwikiDbOptions(
        languages=tuple(languages), max_bad_lines=max_bad_lines, reuse=reuse_outputs
    )
    summary = build_interwiki_db(wikidata_uri, out, options)
    log_metrics(metrics, summary)
    write_pointer(interwiki_db, out, "interwiki_db", items=summary.items,
                  reused=summary.reused)  # fmt: skip
    return out


@dsl.component(base_image=preprocess_image(), install_kfp_package=False)
def build_multilingual_entity_vocab(
    vocab_uris: list,
    interwiki_db_uri: str,
    work_dir: str,
    vocab_size: int,
    min_num_languages: int,
    s3_endpoint: str,
    reuse_outputs: bool,
    metrics: Output[Metrics],
    top_entities: Output[Markdown],
    entity_vocab: Output[Artifact],
) -> str:
    """Merge per-language vocabularies through Wikidata into the work dir's multilingual
    vocabulary. With `reuse_outputs` one merged from the same vocabularies and interwiki
    database (unchanged since) with the same options is kept."""
    from components.support import (
        log_metrics,
        setup,
        top_entities_markdown,
        write_markdown,
        write_pointer,
    )
    from luke_core.entity_vocab.multilingual import (
        BuildMultilingualEntityVocabOptions,
        build_multilingual_entity_vocab,
    )
    from luke_core.workdir import WorkDir

    setup(s3_endpoint)
    out = WorkDir(work_dir).entity_vocab()
    options = BuildMultilingualEntityVocabOptions(
        vocab_size=vocab_size, min_num_languages=min_num_languages, reuse=reuse_outputs
    )
    summary = build_multilingual_entity_vocab(sorted(vocab_uris), interwiki_db_uri, out, options)
    log_metrics(metrics, summary)
    write_markdown(top_entities, top_entities_markdown(out, "Multilingual entity vocabulary"))
    write_pointer(entity_vocab, out, "entity_vocab", entries=summary.entries,
                  reused=summary.reused)  # fmt: skip
    return out
