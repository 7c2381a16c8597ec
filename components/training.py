"""Component of step 4: one pretraining stage, launched as torchrun processes here or as a
PyTorchJob in the cluster."""

from kfp import dsl
from kfp.dsl import HTML, Metrics, Model, Output

from pipelines.images import training_image


@dsl.component(base_image=training_image(), install_kfp_package=False)
def pretrain(
    dataset_dirs: list,
    work_dir: str,
    stage: str,
    bert_model_name: str,
    deepspeed_config: str,
    num_epochs: int,
    entity_emb_size: int,
    fix_bert_weights: bool,
    resume_checkpoint_id: str,
    reset_optimization_states: bool,
    masked_lm_prob: float,
    masked_entity_prob: float,
    whole_word_masking: bool,
    save_interval_steps: int,
    sampling_smoothing: float,
    seed: int,
    num_workers: int,
    launcher: str,
    num_nodes: int,
    procs_per_node: int,
    job_options: dict,
    run_id: str,
    s3_endpoint: str,
    metrics: Output[Metrics],
    curves: Output[HTML],
    checkpoint: Output[Model],
) -> str:
    """Train `{work_dir}/training/{stage}` to its end (a restarted step resumes from its
    latest complete checkpoint) and return that run folder."""
    from components.report import curves_html
    from components.support import output_uri, setup, write_pointer
    from luke_core.launch import LocalLauncher, TrainingJobSpec, pretrain_arguments
    from luke_core.training.checkpoints import latest_complete
    from luke_core.training.metrics import read_metrics
    from luke_core.training.options import PretrainOptions

    setup(s3_endpoint)
    out = output_uri(work_dir, "training", stage)
    options = PretrainOptions(
        deepspeed_config_file=deepspeed_config,
        bert_model_name=bert_model_name,
        entity_emb_size=entity_emb_size,
        fix_bert_weights=fix_bert_weights,
        reset_optimization_states=reset_optimization_states,
        resume_checkpoint_id=resume_checkpoint_id or None,
        num_epochs=num_epochs,
        masked_lm_prob=masked_lm_prob,
        masked_entity_prob=masked_entity_prob,
        whole_word_masking=whole_word_masking,
        save_interval_steps=save_interval_steps or None,
        sampling_smoothing=sampling_smoothing,
        seed=seed,
        num_workers=num_workers,
        progress=False,
    )
    env = {"AWS_ENDPOINT_URL": s3_endpoint} if s3_endpoint else {}
    spec = TrainingJobSpec(
        name=stage,
        pretrain_args=pretrain_arguments(list(dataset_dirs), out, options),
        num_nodes=num_nodes,
        procs_per_node=procs_per_node,
        env=env,
        run_id=run_id,
    )
    if launcher == "pytorchjob":
        from pipelines.k8s_launcher import PyTorchJobLauncher
        from pipelines.pytorchjob_options import PyTorchJobOptions

        result = PyTorchJobLauncher(PyTorchJobOptions.from_dict(job_options)).run(spec)
    elif launcher == "local":
        result = LocalLauncher().run(spec)
    else:
        raise ValueError(f"launcher must be 'local' or 'pytorchjob', not {launcher!r}")
    if not result.succeeded:
        raise RuntimeError(f"training stage {stage} failed: {result.detail}")
    rows = read_metrics(out)
    final = {k: v for k, v in (rows[-1] if rows else {}).items() if isinstance(v, int | float)}
    for name, value in final.items():
        metrics.log_metric(f"final_{name}", float(value))
    with open(curves.path, "w") as f:
        f.write(curves_html(rows, f"LUKE pretraining, {stage}"))
    latest = latest_complete(out)
    write_pointer(
        checkpoint, out, "pretraining_run", stage=stage, latest=latest.uri if latest else ""
    )
    return out
