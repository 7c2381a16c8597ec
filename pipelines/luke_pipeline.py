"""The LUKE pretraining pipeline: dump -> database -> entity vocabulary -> dataset ->
total steps -> stage 1 -> stage 2 -> Hugging Face export -> upload (when a repo id is given).

Parameters default to the reference's published LUKE run (roberta-base, 500K entities,
OpenNLP sentences, unknown entities included, batch 2048, 20 epochs a stage). Everything
large lives under `work_dir` (see pipelines/README.md); steps hand each other URIs.
"""

from kfp import dsl

from components.dataset import build_dataset
from components.dump_db import build_dump_db, merge_dump_db
from components.entity_vocab import build_entity_vocab
from pipelines.settings import configure
from pipelines.stages import train_and_export

DEFAULT_DUMPS = ["s3://mlpipeline/luke/dumps/enwiki-latest-pages-articles.xml.bz2"]


@dsl.pipeline(
    name="luke-pretraining",
    description="Pretrain LUKE (entity-aware RoBERTa) from a Wikipedia dump, two stages, "
    "exported to Hugging Face.",
)
def luke_pipeline(
    dump_uris: list = DEFAULT_DUMPS,
    work_dir: str = "s3://mlpipeline/luke/run",
    s3_endpoint: str = "http://seaweedfs.kubeflow:8333",
    language: str = "en",
    bert_model_name: str = "roberta-base",
    entity_vocab_size: int = 500_000,
    entity_min_count: int = 0,
    sentence_splitter: str = "opennlp",
    include_unk_entities: bool = True,
    max_seq_length: int = 512,
    max_entity_length: int = 128,
    max_mention_length: int = 30,
    min_sentence_length: int = 5,
    abstract_only: bool = False,
    max_num_documents: int = 0,
    dataset_seed: int = 0,
    stage1_deepspeed_config: str = "luke-base-stage1",
    stage2_deepspeed_config: str = "luke-base-stage2",
    num_epochs: int = 20,
    entity_emb_size: int = 256,
    masked_lm_prob: float = 0.15,
    masked_entity_prob: float = 0.15,
    whole_word_masking: bool = True,
    save_interval_steps: int = 1000,
    seed: int = 42,
    dataloader_workers: int = 2,
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
                pool_size=0,
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
        ),
        "build-entity-vocab",
    )
    dataset = configure(
        build_dataset(
            dump_db_uri=dump_db.outputs["Output"],
            tokenizer=bert_model_name,
            entity_vocab_uri=vocab.outputs["Output"],
            work_dir=work_dir,
            name=language,
            language=language,
            sentence_splitter=sentence_splitter,
            max_seq_length=max_seq_length,
            max_entity_length=max_entity_length,
            max_mention_length=max_mention_length,
            min_sentence_length=min_sentence_length,
            include_unk_entities=include_unk_entities,
            abstract_only=abstract_only,
            include_sentences_without_entities=False,
            max_num_documents=max_num_documents,
            predefined_entities_only=False,
            seed=dataset_seed,
            reuse_outputs=reuse_outputs,
            s3_endpoint=s3_endpoint,
        ),
        "build-dataset",
        hf=True,  # the tokenizer may be a private model of the Hub
    )
    training = {
        "work_dir": work_dir,
        "bert_model_name": bert_model_name,
        "num_epochs": num_epochs,
        "entity_emb_size": entity_emb_size,
        "masked_lm_prob": masked_lm_prob,
        "masked_entity_prob": masked_entity_prob,
        "whole_word_masking": whole_word_masking,
        "save_interval_steps": save_interval_steps,
        "sampling_smoothing": 0.7,
        "seed": seed,
        "num_workers": dataloader_workers,
        "launcher": training_launcher,
        "num_nodes": num_nodes,
        "procs_per_node": procs_per_node,
        "job_options": job_options,
        "s3_endpoint": s3_endpoint,
    }
    model = train_and_export(
        datasets=lambda: [dataset.outputs["Output"]],
        stage_configs=(stage1_deepspeed_config, stage2_deepspeed_config),
        training=training,
        tokenizer_class="LukeTokenizer",
        use_entity_aware_attention=use_entity_aware_attention,
        hf_repo_id=hf_repo_id,
        hf_private=hf_private,
    )
    return model.outputs["Output"]
