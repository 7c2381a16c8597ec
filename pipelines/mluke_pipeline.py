"""The mLUKE pretraining pipeline: per language (in parallel) a dump database and an entity
vocabulary; the interwiki database from Wikidata; the multilingual vocabulary merged through
it; per language (in parallel) a dataset over that vocabulary; both stages over all the
datasets (mixed by size^smoothing); export with `MLukeTokenizer`; upload.

Defaults follow the published mLUKE run: 24 Wikipedias, xlm-roberta-base, 1.2M entities
present in at least 3 languages, ICU sentences per language, no unknown entities, subword
masking.
"""

from kfp import dsl

from components.dataset import build_dataset
from components.dump_db import build_dump_db
from components.entity_vocab import (
    build_entity_vocab,
    build_interwiki_db,
    build_multilingual_entity_vocab,
)
from pipelines.settings import configure
from pipelines.stages import train_and_export

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
    s3_endpoint: str = "http://seaweedfs.kubeflow:8333",
    bert_model_name: str = "xlm-roberta-base",
    language_vocab_size: int = 1_000_000,
    entity_vocab_size: int = 1_200_000,
    min_num_languages: int = 3,
    include_unk_entities: bool = False,
    max_seq_length: int = 512,
    max_entity_length: int = 128,
    max_mention_length: int = 30,
    min_sentence_length: int = 5,
    max_num_documents: int = 0,
    dataset_seed: int = 0,
    stage1_deepspeed_config: str = "mluke-base-stage1",
    stage2_deepspeed_config: str = "mluke-base-stage2",
    num_epochs: int = 20,
    entity_emb_size: int = 256,
    masked_lm_prob: float = 0.15,
    masked_entity_prob: float = 0.15,
    sampling_smoothing: float = 0.7,
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
    with dsl.ParallelFor(wikipedias, name="languages") as wiki:
        dump_db = configure(
            build_dump_db(
                dump_uri=wiki.dump,
                work_dir=work_dir,
                name=wiki.language,
                s3_endpoint=s3_endpoint,
                pool_size=0,
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
        ),
        "build-multilingual-entity-vocab",
    )
    # The loop takes nothing from an upstream task (kfp.local 2.17 hands a loop the loop
    # item in place of every upstream output it consumes): the datasets read the work dir's
    # databases and multilingual vocabulary by their paths, after the vocabulary is built.
    with dsl.ParallelFor(wikipedias, name="datasets") as wiki:
        dataset = configure(
            build_dataset(
                dump_db_uri="",  # the language's database, {work_dir}/dump_db/{language}.db
                tokenizer=bert_model_name,
                entity_vocab_uri="",  # {work_dir}/entity_vocab/multilingual.jsonl
                work_dir=work_dir,
                name=wiki.language,
                language=wiki.language,
                sentence_splitter="",  # ICU for the language
                max_seq_length=max_seq_length,
                max_entity_length=max_entity_length,
                max_mention_length=max_mention_length,
                min_sentence_length=min_sentence_length,
                include_unk_entities=include_unk_entities,
                abstract_only=False,
                include_sentences_without_entities=False,
                max_num_documents=max_num_documents,
                predefined_entities_only=False,
                seed=dataset_seed,
                reuse_outputs=reuse_outputs,
                s3_endpoint=s3_endpoint,
            ),
            "build-dataset",
            hf=True,  # the tokenizer may be a private model of the Hub
        ).after(vocab)
    training = {
        "work_dir": work_dir,
        "bert_model_name": bert_model_name,
        "num_epochs": num_epochs,
        "entity_emb_size": entity_emb_size,
        "masked_lm_prob": masked_lm_prob,
        "masked_entity_prob": masked_entity_prob,
        "whole_word_masking": False,
        "save_interval_steps": save_interval_steps,
        "sampling_smoothing": sampling_smoothing,
        "seed": seed,
        "num_workers": dataloader_workers,
        "launcher": training_launcher,
        "num_nodes": num_nodes,
        "procs_per_node": procs_per_node,
        "job_options": job_options,
        "s3_endpoint": s3_endpoint,
    }
    model = train_and_export(
        datasets=lambda: dsl.Collected(dataset.outputs["Output"]),
        stage_configs=(stage1_deepspeed_config, stage2_deepspeed_config),
        training=training,
        tokenizer_class="MLukeTokenizer",
        use_entity_aware_attention=use_entity_aware_attention,
        hf_repo_id=hf_repo_id,
        hf_private=hf_private,
    )
    return model.outputs["Output"]
