"""Components of step 3: the pretraining dataset of a language, and the step count."""

from kfp import dsl
from kfp.dsl import Dataset, Markdown, Metrics, Output

from luke_k8s.images import preprocess_image


@dsl.component(base_image=preprocess_image(), install_kfp_package=False)
def build_dataset(
    dump_db_uri: str,
    tokenizer: str,
    preset: str,
    entity_vocab_uri: str,
    work_dir: str,
    name: str,
    language: str,
    sentence_splitter: str,
    max_seq_length: int,
    max_entity_length: int,
    max_mention_length: int,
    min_sentence_length: int,
    include_unk_entities: bool,
    abstract_only: bool,
    include_sentences_without_entities: bool,
    max_num_documents: int,
    predefined_entities_only: bool,
    seed: int,
    reuse_outputs: bool,
    s3_endpoint: str,
    metrics: Output[Metrics],
    report: Output[Markdown],
    dataset: Output[Dataset],
) -> str:
    """Build the dataset of the language `name` in the work dir (max_num_documents 0: all
    pages) from a dump database (empty `dump_db_uri`: the language's database in the work
    dir) and an entity vocabulary (empty `entity_vocab_uri`: the work dir's multilingual
    one), tokenised by `tokenizer` (empty: the preset's base model's). With `reuse_outputs`
    a dataset built from the same inputs (unchanged since) with the same options is kept."""
    from components.support import (
        dataset_markdown,
        log_metrics,
        setup,
        write_markdown,
        write_pointer,
    )
    from luke_core.dataset.building.build import build_dataset
    from luke_core.dataset.building.options import BuildDatasetOptions
    from luke_core.presets import base_model
    from luke_core.workdir import WorkDir

    setup(s3_endpoint)
    work = WorkDir(work_dir)
    out = work.dataset(name)
    options = BuildDatasetOptions(
        sentence_splitter=sentence_splitter or None,
        language=language or None,
        max_seq_length=max_seq_length,
        max_entity_length=max_entity_length,
        max_mention_length=max_mention_length,
        min_sentence_length=min_sentence_length,
        include_unk_entities=include_unk_entities,
        abstract_only=abstract_only,
        include_sentences_without_entities=include_sentences_without_entities,
        max_num_documents=max_num_documents or None,
        predefined_entities_only=predefined_entities_only,
        seed=seed,
        reuse=reuse_outputs,
    )
    summary = build_dataset(
        dump_db_uri or work.dump_db(name),
        base_model(preset or None, tokenizer or None),
        entity_vocab_uri or work.entity_vocab(),
        out,
        options,
    )
    log_metrics(metrics, summary)
    write_markdown(report, dataset_markdown(out, name))
    write_pointer(dataset, out, "dataset", language=language, reused=summary.reused)
    return out


@dsl.component(base_image=preprocess_image(), install_kfp_package=False)
def compute_total_training_steps(
    dataset_dirs: list,
    preset: str,
    deepspeed_config: str,
    num_nodes: int,
    procs_per_node: int,
    num_epochs: int,
    s3_endpoint: str,
    metrics: Output[Metrics],
) -> int:
    """ceil(items of all datasets / batch size * epochs), from their metadata alone, with
    the batch size the DeepSpeed config of stage 1 (empty: the preset's) gives training on
    num_nodes x procs_per_node processes (one number, one place)."""
    from components.support import setup
    from luke_core.dataset.describe import compute_total_training_steps
    from luke_core.presets import stage_config
    from luke_core.training.deepspeed_config import load_config, train_batch_size

    setup(s3_endpoint)
    config = load_config(stage_config(preset or None, deepspeed_config or None, 1))
    batch_size = train_batch_size(config, num_nodes * procs_per_node)
    steps = compute_total_training_steps(sorted(dataset_dirs), batch_size, num_epochs)
    metrics.log_metric("train_batch_size", batch_size)
    metrics.log_metric("total_training_steps", steps)
    return steps
