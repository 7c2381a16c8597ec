"""The part the LUKE and mLUKE pipelines share: total steps, both training stages, the
Hugging Face export and the upload when a repo id is given. Called inside a pipeline
function (it creates that pipeline's tasks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kfp import dsl

from components.dataset import compute_total_training_steps
from components.export import export_huggingface, upload_to_hub
from components.training import pretrain
from pipelines.settings import configure, job_defaults


def train_and_export(
    *,
    datasets: Callable[[], Any],
    stage_configs: tuple[str, str],
    training: dict[str, Any],
    tokenizer_class: str,
    use_entity_aware_attention: bool,
    hf_repo_id: str,
    hf_private: bool,
):
    """`datasets()` gives the dataset dirs input anew for each consumer (a `dsl.Collected`
    may feed one task only); `training` holds the pretrain inputs both stages share.
    Returns the export task."""
    work_dir, s3_endpoint = training["work_dir"], training["s3_endpoint"]
    total_steps = configure(
        compute_total_training_steps(
            dataset_dirs=datasets(),
            deepspeed_config=stage_configs[0],
            num_nodes=training["num_nodes"],
            procs_per_node=training["procs_per_node"],
            num_epochs=training["num_epochs"],
            s3_endpoint=s3_endpoint,
        ),
        "compute-total-training-steps",
    )
    shared = {**training, "job_defaults": job_defaults(), "run_id": dsl.PIPELINE_JOB_ID_PLACEHOLDER}
    stage1 = _stage("stage1", datasets(), stage_configs[0], shared, resume="").after(total_steps)
    stage2 = _stage("stage2", datasets(), stage_configs[1], shared, resume=stage1.outputs["Output"])
    model = configure(
        export_huggingface(
            checkpoint=stage2.outputs["Output"],
            work_dir=work_dir,
            tokenizer_class=tokenizer_class,
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
    return model


def _stage(name: str, dataset_dirs, deepspeed_config: str, shared: dict, *, resume):
    """Stage 1 trains the entity parts only; stage 2 everything, from stage 1's weights with
    fresh optimizer state. No KFP retries: a PyTorchJob restarts its own pods and a rerun
    resumes from the stage's latest checkpoint."""
    first = name == "stage1"
    task = pretrain(
        dataset_dirs=dataset_dirs,
        stage=name,
        deepspeed_config=deepspeed_config,
        fix_bert_weights=first,
        resume_checkpoint_id=resume,
        reset_optimization_states=not first,
        **shared,
    )
    return configure(task, "pretrain", retries=False, hf=True).set_display_name(f"pretrain-{name}")
