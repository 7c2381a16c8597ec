"""Component of step 4: one pretraining stage, launched as torchrun processes here or as a
PyTorchJob in the cluster."""

from kfp import dsl
from kfp.dsl import HTML, Metrics, Model, Output

from luke_k8s.images import training_image


@dsl.component(base_image=training_image(), install_kfp_package=False)
def pretrain(
    dataset_dirs: list,
    work_dir: str,
    stage: str,
    preset: str,
    bert_model_name: str,
    deepspeed_config: str,
    num_epochs: int,
    entity_emb_size: int,
    fix_bert_weights: bool,
    resume_checkpoint_id: str,
    reset_optimization_states: bool,
    masking: str,
    masked_lm_prob: float,
    masked_entity_prob: float,
    save_interval_steps: int,
    sampling_smoothing: float,
    seed: int,
    num_workers: int,
    launcher: str,
    num_nodes: int,
    procs_per_node: int,
    job_options: dict,
    job_defaults: dict,
    run_id: str,
    s3_endpoint: str,
    metrics: Output[Metrics],
    curves: Output[HTML],
    checkpoint: Output[Model],
) -> str:
    """Train the work dir's run folder of `stage` to its end (a restarted step resumes from its
    latest complete checkpoint) and return that run folder. The preset fills what is left
    empty (`bert_model_name`, `deepspeed_config`, `entity_emb_size` 0, `masking`: else
    `whole-word` or `subword`). A PyTorchJob gets this step's S3 endpoint, and the image and
    Secrets the pipeline was compiled with (`job_defaults`), unless `job_options` says
    otherwise."""
    from components.support import launch_stage, report_stage, setup, whole_word_masking
    from luke_core.launch import TrainingJobSpec, pretrain_arguments
    from luke_core.training.options import PretrainOptions
    from luke_core.workdir import WorkDir

    setup(s3_endpoint)
    out = WorkDir(work_dir).training(stage)
    options = PretrainOptions(
        preset=preset or None,
        deepspeed_config_file=deepspeed_config or None,
        bert_model_name=bert_model_name or None,
        entity_emb_size=entity_emb_size or None,
        fix_bert_weights=fix_bert_weights,
        reset_optimization_states=reset_optimization_states,
        resume_checkpoint_id=resume_checkpoint_id or None,
        num_epochs=num_epochs,
        masked_lm_prob=masked_lm_prob,
        masked_entity_prob=masked_entity_prob,
        whole_word_masking=whole_word_masking(masking),
        save_interval_steps=save_interval_steps or None,
        sampling_smoothing=sampling_smoothing,
        seed=seed,
        num_workers=num_workers,
        progress=False,
    )
    spec = TrainingJobSpec(
        name=stage,
        # sorted: a rerun may collect the datasets in another order, which a mid-epoch
        # resume would refuse (the data order depends on it)
        pretrain_args=pretrain_arguments(sorted(dataset_dirs), out, options),
        num_nodes=num_nodes,
        procs_per_node=procs_per_node,
        run_id=run_id,
    )
    job_options = {"s3_endpoint": s3_endpoint, **job_defaults, **job_options}
    launch_stage(spec, launcher, job_options)
    report_stage(out, stage, metrics, curves, checkpoint)
    return out
