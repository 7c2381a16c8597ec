"""The LUKE pretraining pipeline: dump -> database -> entity vocabulary -> dataset ->
total steps -> stage 1 -> stage 2 -> Hugging Face export -> upload (when a repo id is given).

Parameters default to the reference's published LUKE run (roberta-base, 500K entities,
OpenNLP sentences, unknown entities included, batch 2048, 20 epochs a stage). Everything
large lives under `work_dir` (see pipelines/README.md); steps hand each other URIs.
"""

from kfp import dsl

from components.dataset import build_dataset, compute_total_training_steps
from components.dump_db import build_dump_db, merge_dump_db
from components.entity_vocab import build_entity_vocab
from components.export import export_huggingface, upload_to_hub
from components.training import pretrain
from pipelines.settings import configure, job_defaults

DEFAULT_DUMPS = ["s3://mlpipeline/luke/dumps/enwiki-latest-pages-articles.xml.bz2"]


@dsl.pipeline(
    name="luke-pretraining",
    description="Pretrain LUKE (entity-aware RoBERTa) from a Wikipedia dump, two stages, "
    "exported to Hugging Face.",
)
def luke_pipeline(
    dump_uris: list = DEFAULT_DUMPS,
    work_dir: str = "s3://mlpipeline/luke/run",
    s3_endpoint: str = "http://minio-service.kubeflow:9000",
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
    train_batch_size: int = 2048,
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
    dataset_dirs = [dataset.outputs["Output"]]
    total_steps = configure(
        compute_total_training_steps(
            dataset_dirs=dataset_dirs,
            train_batch_size=train_batch_size,
            num_epochs=num_epochs,
            s3_endpoint=s3_endpoint,
        ),
        "compute-total-training-steps",
    )
    training = {
        "dataset_dirs": dataset_dirs,
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
        "job_defaults": job_defaults(),
        "run_id": dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        "s3_endpoint": s3_endpoint,
    }
    stage1 = configure(
        pretrain(
            stage="stage1",
            deepspeed_config=stage1_deepspeed_config,
            fix_bert_weights=True,
            resume_checkpoint_id="",
            reset_optimization_states=False,
            **training,
        ),
        "pretrain",
        retries=False,
        hf=True,
    ).set_display_name("pretrain-stage1")
    stage1.after(total_steps)
    stage2 = configure(
        pretrain(
            stage="stage2",
            deepspeed_config=stage2_deepspeed_config,
            fix_bert_weights=False,
            resume_checkpoint_id=stage1.outputs["Output"],
            reset_optimization_states=True,
            **training,
        ),
        "pretrain",
        retries=False,
        hf=True,
    ).set_display_name("pretrain-stage2")
    model = configure(
        export_huggingface(
            checkpoint=stage2.outputs["Output"],
            work_dir=work_dir,
            tokenizer_class="LukeTokenizer",
            use_entity_aware_attention=use_entity_aware_attention,
            remove_entity_embeddings=False,
            model_name=hf_repo_id,
            s3_endpoint=s3_endpoint,
        ),
        "export-huggingface",
    )
    with dsl.If(hf_repo_id != "", name="upload-requested"):
        configure(
            upload_to_hub(
                folder=model.outputs["Output"],
                repo_id=hf_repo_id,
                private=hf_private,
                revision="",
                s3_endpoint=s3_endpoint,
            ),
            "upload-to-hub",
            hf=True,
        )
    return model.outputs["Output"]
