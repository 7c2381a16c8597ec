"""Components of step 3: the pretraining dataset of a language, and the step count."""

from kfp import dsl
from kfp.dsl import Dataset, Markdown, Metrics, Output

from luke_k8s.images import preprocess_image


@dsl.component(base_image=preprocess_image(), install_kfp_package=False)
def build_dataset(
    dump_db_uri: str,
    tokenizer: str,
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
    """Build `{work_dir}/dataset/{name}` (max_num_documents 0: all pages) from a dump
    database (empty `dump_db_uri`: `{work_dir}/dump_db/{name}.db`) and an entity vocabulary
    (empty `entity_vocab_uri`: the multilingual one, `{work_dir}/entity_vocab/
    multilingual.jsonl`). An existing dataset built from the same inputs and options is
    reused when `reuse_outputs`."""
    from components.support import (
        dataset_markdown,
        log_metrics,
        output_uri,
        reusable_dataset,
        setup,
        summary_values,
        worker_processes,
        write_markdown,
        write_pointer,
    )
    from luke_core.dataset.building.build import BuildDatasetOptions, build_dataset

    setup(s3_endpoint)
    out = output_uri(work_dir, "dataset", name)
    dump_db_uri = dump_db_uri or output_uri(work_dir, "dump_db", f"{name}.db")
    entity_vocab_uri = entity_vocab_uri or output_uri(
        work_dir, "entity_vocab", "multilingual.jsonl"
    )
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
        processes=worker_processes(),
    )
    inputs = {"dump_db": dump_db_uri, "tokenizer": tokenizer, "entity_vocab": entity_vocab_uri}
    summary = reusable_dataset(out, inputs, options) if reuse_outputs else None
    reused = summary is not None
    if not reused:
        summary = build_dataset(dump_db_uri, tokenizer, entity_vocab_uri, out, options)
    log_metrics(metrics, {**summary_values(summary), "reused": int(reused)})
    write_markdown(report, dataset_markdown(out, name))
    write_pointer(dataset, out, "dataset", language=language)
    return out


@dsl.component(base_image=preprocess_image(), install_kfp_package=False)
def compute_total_training_steps(
    dataset_dirs: list,
    deepspeed_config: str,
    num_nodes: int,
    procs_per_node: int,
    num_epochs: int,
    s3_endpoint: str,
    metrics: Output[Metrics],
) -> int:
    """ceil(items of all datasets / batch size * epochs), from their metadata alone, with
    the batch size the DeepSpeed config gives training on num_nodes x procs_per_node
    processes (one number, one place)."""
    from components.support import setup
    from luke_core.dataset.describe import compute_total_training_steps
    from luke_core.training.deepspeed_config import load_config, train_batch_size

    setup(s3_endpoint)
    batch_size = train_batch_size(load_config(deepspeed_config), num_nodes * procs_per_node)
    steps = compute_total_training_steps(sorted(dataset_dirs), batch_size, num_epochs)
    metrics.log_metric("train_batch_size", batch_size)
    metrics.log_metric("total_training_steps", steps)
    return steps
