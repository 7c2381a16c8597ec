"""The LUKE pretraining pipeline: dump -> database -> entity vocabulary -> dataset ->
total steps -> stage 1 -> stage 2 -> Hugging Face export -> upload (when a repo id is given).

Parameters default to the reference's published LUKE run (the luke-base preset: roberta-base,
its DeepSpeed configs, whole-word masking; 500K entities, OpenNLP sentences, unknown entities
included, batch 2048, 20 epochs a stage); the other defaults are the steps' own
(`pipelines.tasks`). Everything large lives under `work_dir` (`luke_core.workdir.WorkDir`);
steps hand each other URIs.
"""

from kfp import dsl

from components.dump_db import build_dump_db, merge_dump_db
from components.entity_vocab import build_entity_vocab
from pipelines.settings import configure
from pipelines.tasks import (
    DATASET,
    PRETRAIN,
    S3_ENDPOINT,
    DatasetParams,
    TrainingParams,
    dataset_task,
    train_and_export,
)

DEFAULT_DUMPS = ["s3://mlpipeline/luke/dumps/enwiki-latest-pages-articles.xml.bz2"]


@dsl.pipeline(
    name="luke-pretraining",
    description="Pretrain LUKE (entity-aware RoBERTa) from a Wikipedia dump, two stages, "
    "exported to Hugging Face.",
)
def luke_pipeline(
    dump_uris: list = DEFAULT_DUMPS,
    work_dir: str = "s3://mlpipeline/luke/run",
    s3_endpoint: str = S3_ENDPOINT,
    language: str = "en",
    preset: str = "luke-base",
    bert_model_name: str = "",
    entity_vocab_size: int = 500_000,
    entity_min_count: int = 0,
    sentence_splitter: str = "opennlp",
    include_unk_entities: bool = True,
    max_seq_length: int = DATASET.max_seq_length,
    max_entity_length: int = DATASET.max_entity_length,
    max_mention_length: int = DATASET.max_mention_length,
    min_sentence_length: int = DATASET.min_sentence_length,
    abstract_only: bool = DATASET.abstract_only,
    max_num_documents: int = 0,
    dataset_seed: int = DATASET.seed,
    stage1_deepspeed_config: str = "",
    stage2_deepspeed_config: str = "",
    num_epochs: int = PRETRAIN.num_epochs,
    entity_emb_size: int = 0,
    masking: str = "",
    masked_lm_prob: float = PRETRAIN.masked_lm_prob,
    masked_entity_prob: float = PRETRAIN.masked_entity_prob,
    sampling_smoothing: float = PRETRAIN.sampling_smoothing,
    save_interval_steps: int = PRETRAIN.save_interval_steps,
    seed: int = PRETRAIN.seed,
    dataloader_workers: int = PRETRAIN.num_workers,
    training_launcher: str = "pytorchjob",
    num_nodes: int = 1,
    procs_per_node: int = 8,
    job_options: dict = {},  # noqa: B006 - a KFP parameter default, never mutated
    use_entity_aware_attention: bool = True,
    hf_repo_id: str = "",
    hf_private: bool = True,
    reuse_outputs: bool = True,
) -> str:
    with dsl.ParallelFor(dump_uris, name="dump-parts") as dump_uri:
        part = configure(
            build_dump_db(
                dump_uri=dump_uri,
                work_dir=work_dir,
                name="",
                s3_endpoint=s3_endpoint,
                reuse_outputs=reuse_outputs,
            ),
            "build-dump-db",
        )
    dump_db = configure(
        merge_dump_db(
            part_uris=dsl.Collected(part.outputs["Output"]),
            work_dir=work_dir,
            name=language,
            s3_endpoint=s3_endpoint,
            reuse_outputs=reuse_outputs,
        ),
        "merge-dump-db",
    )
    vocab = configure(
        build_entity_vocab(
            dump_db_uri=dump_db.outputs["Output"],
            work_dir=work_dir,
            name=language,
            vocab_size=entity_vocab_size,
            min_count=entity_min_count,
            language="",
            white_list_uris=[],
            white_list_only=False,
            s3_endpoint=s3_endpoint,
            reuse_outputs=reuse_outputs,
        ),
        "build-entity-vocab",
    )
    datasets = DatasetParams.of(locals())
    dataset = dataset_task(
        datasets,
        name=language,
        language=language,
        sentence_splitter=sentence_splitter,
        dump_db_uri=dump_db.outputs["Output"],
        entity_vocab_uri=vocab.outputs["Output"],
        abstract_only=abstract_only,
    )
    training = TrainingParams.of(locals())
    model = train_and_export(
        datasets=lambda: [dataset.outputs["Output"]],
        training=training,
        use_entity_aware_attention=use_entity_aware_attention,
        hf_repo_id=hf_repo_id,
        hf_private=hf_private,
    )
    return model.outputs["Output"]
