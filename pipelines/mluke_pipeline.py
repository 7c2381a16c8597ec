"""The mLUKE pretraining pipeline: per language (in parallel) a dump database and an entity
vocabulary; the interwiki database from Wikidata; the multilingual vocabulary merged through
it; per language (in parallel) a dataset over that vocabulary; both stages over all the
datasets (mixed by size^smoothing); export with `MLukeTokenizer`; upload.

Defaults follow the published mLUKE run: 24 Wikipedias, the mluke-base preset
(xlm-roberta-base, its DeepSpeed configs, subword masking), 1.2M entities present in at least
3 languages, ICU sentences per language, no unknown entities; the other defaults are the
steps' own (`pipelines.tasks`).
"""

from kfp import dsl

from components.dump_db import build_dump_db
from components.entity_vocab import (
    build_entity_vocab,
    build_interwiki_db,
    build_multilingual_entity_vocab,
)
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

MLUKE_LANGUAGES = (
    "ar bn de nl el en es fi fr hi id it ja ko pl pt ru sv sw te th tr vi zh".split()  # noqa: SIM905
)
DEFAULT_WIKIPEDIAS = [
    {
        "language": lang,
        "dump": f"s3://mlpipeline/luke/dumps/{lang}wiki-latest-pages-articles.xml.bz2",
    }
    for lang in MLUKE_LANGUAGES
]


@dsl.pipeline(
    name="mluke-pretraining",
    description="Pretrain mLUKE (entity-aware XLM-R) from several Wikipedias merged through "
    "Wikidata, two stages, exported to Hugging Face.",
)
def mluke_pipeline(
    wikipedias: list = DEFAULT_WIKIPEDIAS,
    wikidata_uri: str = "s3://mlpipeline/luke/dumps/latest-all.json.bz2",
    interwiki_languages: list = [],  # noqa: B006 - a KFP default; empty: wikipedias' languages
    work_dir: str = "s3://mlpipeline/luke/mluke-run",
    s3_endpoint: str = S3_ENDPOINT,
    preset: str = "mluke-base",
    bert_model_name: str = "",
    language_vocab_size: int = 1_000_000,
    entity_vocab_size: int = 1_200_000,
    min_num_languages: int = 3,
    include_unk_entities: bool = DATASET.include_unk_entities,
    max_seq_length: int = DATASET.max_seq_length,
    max_entity_length: int = DATASET.max_entity_length,
    max_mention_length: int = DATASET.max_mention_length,
    min_sentence_length: int = DATASET.min_sentence_length,
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
    with dsl.ParallelFor(wikipedias, name="languages") as wiki:
        dump_db = configure(
            build_dump_db(
                dump_uri=wiki.dump,
                work_dir=work_dir,
                name=wiki.language,
                s3_endpoint=s3_endpoint,
                reuse_outputs=reuse_outputs,
            ),
            "build-dump-db",
        )
        language_vocab = configure(
            build_entity_vocab(
                dump_db_uri=dump_db.outputs["Output"],
                work_dir=work_dir,
                name=wiki.language,
                vocab_size=language_vocab_size,
                min_count=0,
                language=wiki.language,
                white_list_uris=[],
                white_list_only=False,
                s3_endpoint=s3_endpoint,
                reuse_outputs=reuse_outputs,
            ),
            "build-entity-vocab",
        )
    interwiki = configure(
        build_interwiki_db(
            wikidata_uri=wikidata_uri,
            work_dir=work_dir,
            languages=interwiki_languages,
            wikipedias=wikipedias,
            max_bad_lines=10,
            s3_endpoint=s3_endpoint,
            reuse_outputs=reuse_outputs,
        ),
        "build-interwiki-db",
    )
    vocab = configure(
        build_multilingual_entity_vocab(
            vocab_uris=dsl.Collected(language_vocab.outputs["Output"]),
            interwiki_db_uri=interwiki.outputs["Output"],
            work_dir=work_dir,
            vocab_size=entity_vocab_size,
            min_num_languages=min_num_languages,
            s3_endpoint=s3_endpoint,
            reuse_outputs=reuse_outputs,
        ),
        "build-multilingual-entity-vocab",
    )
    datasets = DatasetParams.of(locals())
    # The loop takes nothing from an upstream task (kfp.local 2.17 hands a loop the loop
    # item in place of every upstream output it consumes): the datasets read the work dir's
    # databases and multilingual vocabulary by their paths, after the vocabulary is built;
    # each language's sentences are split by ICU for the language.
    with dsl.ParallelFor(wikipedias, name="datasets") as wiki:
        dataset = dataset_task(datasets, name=wiki.language, language=wiki.language).after(vocab)
    training = TrainingParams.of(locals())
    model = train_and_export(
        datasets=lambda: dsl.Collected(dataset.outputs["Output"]),
        training=training,
        use_entity_aware_attention=use_entity_aware_attention,
        hf_repo_id=hf_repo_id,
        hf_private=hf_private,
    )
    return model.outputs["Output"]
