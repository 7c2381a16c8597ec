"""What the LUKE and mLUKE pipelines share: the defaults of their parameters (read from the
steps' options dataclasses and the presets, written nowhere else), the parameters every
dataset task and every training stage takes as two typed groups, and the tasks built from
them: a dataset, the total steps, both training stages, the export and the upload.

Inside a pipeline function the fields of `DatasetParams` and `TrainingParams` are KFP
pipeline channels; the helpers are called there and create that pipeline's tasks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kfp import dsl

from components.dataset import build_dataset, compute_total_training_steps
from components.export import export_huggingface, upload_to_hub
from components.training import pretrain
from luke_core.cli_options import default
from luke_core.dataset.building.options import BuildDatasetOptions
from luke_core.training.options import PretrainOptions
from pipelines.settings import configure, job_defaults


class _Defaults:
    """`DATASET.max_seq_length`: an options dataclass's default, for a pipeline parameter."""

    def __init__(self, options_class: type):
        self._options_class = options_class

    def __getattr__(self, name: str) -> Any:
        return default(self._options_class, name)


DATASET = _Defaults(BuildDatasetOptions)
PRETRAIN = _Defaults(PretrainOptions)
S3_ENDPOINT = "http://seaweedfs.kubeflow:8333"
"""Kubeflow's object store from KFP 2.15 (MinIO's `http://minio-service.kubeflow:9000` before)."""


class _FromPipeline:
    @classmethod
    def of(cls, parameters: Mapping[str, Any]):
        """The group's fields taken from a pipeline function's parameters (`locals()`): the
        same names in both pipelines, so neither lists them again."""
        return cls(**{f.name: parameters[f.name] for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class DatasetParams(_FromPipeline):
    """The pipeline parameters every dataset task takes."""

    work_dir: Any
    s3_endpoint: Any
    preset: Any
    bert_model_name: Any
    """The tokenizer's model (empty: the preset's base model)."""
    max_seq_length: Any
    max_entity_length: Any
    max_mention_length: Any
    min_sentence_length: Any
    include_unk_entities: Any
    max_num_documents: Any
    dataset_seed: Any
    reuse_outputs: Any


def dataset_task(
    params: DatasetParams,
    *,
    name: Any,
    language: Any,
    sentence_splitter: Any = "",
    dump_db_uri: Any = "",
    entity_vocab_uri: Any = "",
    abstract_only: Any = False,
):
    """A language's dataset; an empty `dump_db_uri` / `entity_vocab_uri` means the work
    dir's database of the language / multilingual vocabulary."""
    task = build_dataset(
        dump_db_uri=dump_db_uri,
        tokenizer=params.bert_model_name,
        preset=params.preset,
        entity_vocab_uri=entity_vocab_uri,
        work_dir=params.work_dir,
        name=name,
        language=language,
        sentence_splitter=sentence_splitter,
        max_seq_length=params.max_seq_length,
        max_entity_length=params.max_entity_length,
        max_mention_length=params.max_mention_length,
        min_sentence_length=params.min_sentence_length,
        include_unk_entities=params.include_unk_entities,
        abstract_only=abstract_only,
        include_sentences_without_entities=False,
        max_num_documents=params.max_num_documents,
        predefined_entities_only=False,
        seed=params.dataset_seed,
        reuse_outputs=params.reuse_outputs,
        s3_endpoint=params.s3_endpoint,
    )
    return configure(task, "build-dataset", hf=True)  # the tokenizer may be a private model


@dataclass(frozen=True)
class TrainingParams(_FromPipeline):
    """The pipeline parameters both training stages (and the export) take."""

    work_dir: Any
    s3_endpoint: Any
    preset: Any
    bert_model_name: Any
    stage1_deepspeed_config: Any
    stage2_deepspeed_config: Any
    """Empty: the preset's."""
    num_epochs: Any
    entity_emb_size: Any
    """0: the preset's."""
    masking: Any
    """`whole-word`, `subword`, or empty: the preset's."""
    masked_lm_prob: Any
    masked_entity_prob: Any
    save_interval_steps: Any
    sampling_smoothing: Any
    seed: Any
    dataloader_workers: Any
    training_launcher: Any
    num_nodes: Any
    procs_per_node: Any
    job_options: Any
    reuse_outputs: Any


def train_and_export(
    *,
    datasets: Callable[[], Any],
    training: TrainingParams,
    use_entity_aware_attention: Any,
    hf_repo_id: Any,
    hf_private: Any,
):
    """Total steps, stage 1, stage 2, the export, and the upload when a repo id is given.
    `datasets()` gives the dataset dirs input anew for each consumer (a `dsl.Collected`
    may feed one task only). Returns the export task."""
    total_steps = configure(
        compute_total_training_steps(
            dataset_dirs=datasets(),
            preset=training.preset,
            deepspeed_config=training.stage1_deepspeed_config,
            num_nodes=training.num_nodes,
            procs_per_node=training.procs_per_node,
            num_epochs=training.num_epochs,
            s3_endpoint=training.s3_endpoint,
        ),
        "compute-total-training-steps",
    )
    stage1 = _stage(training, 1, datasets(), resume="").after(total_steps)
    stage2 = _stage(training, 2, datasets(), resume=stage1.outputs["Output"])
    model = configure(
        export_huggingface(
            checkpoint=stage2.outputs["Output"],
            work_dir=training.work_dir,
            preset=training.preset,
            tokenizer_class="",
            use_entity_aware_attention=use_entity_aware_attention,
            remove_entity_embeddings=False,
            model_name=hf_repo_id,
            s3_endpoint=training.s3_endpoint,
            reuse_outputs=training.reuse_outputs,
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
                s3_endpoint=training.s3_endpoint,
            ),
            "upload-to-hub",
            hf=True,
        )
    return model


def _stage(training: TrainingParams, stage: int, dataset_dirs, *, resume):
    """Stage 1 trains the entity parts only; stage 2 everything, from stage 1's weights with
    fresh optimizer state. No KFP retries: a PyTorchJob restarts its own pods and a rerun
    resumes from the stage's latest checkpoint."""
    first = stage == 1
    task = pretrain(
        dataset_dirs=dataset_dirs,
        work_dir=training.work_dir,
        stage=f"stage{stage}",
        preset=training.preset,
        bert_model_name=training.bert_model_name,
        deepspeed_config=training.stage1_deepspeed_config
        if first
        else training.stage2_deepspeed_config,
        num_epochs=training.num_epochs,
        entity_emb_size=training.entity_emb_size,
        fix_bert_weights=first,
        resume_checkpoint_id=resume,
        reset_optimization_states=not first,
        masking=training.masking,
        masked_lm_prob=training.masked_lm_prob,
        masked_entity_prob=training.masked_entity_prob,
        save_interval_steps=training.save_interval_steps,
        sampling_smoothing=training.sampling_smoothing,
        seed=training.seed,
        num_workers=training.dataloader_workers,
        launcher=training.training_launcher,
        num_nodes=training.num_nodes,
        procs_per_node=training.procs_per_node,
        job_options=training.job_options,
        job_defaults=job_defaults(),
        run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        s3_endpoint=training.s3_endpoint,
    )
    display = f"pretrain-stage{stage}"
    return configure(task, "pretrain", retries=False, hf=True).set_display_name(display)
