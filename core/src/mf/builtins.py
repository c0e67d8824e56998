"""Core's own plugin: what mf-core registers, through the same hooks as any plugin."""
from .hookspecs import hookimpl


@hookimpl
def mf_register_tasks(registry):
    from . import metrics, tasks
    from .pipelines import (FeatureExtractionPipeline, FillMaskPipeline, ImageClassificationPipeline,
                            MaskedImageModelingPipeline, QuestionAnsweringPipeline, Text2TextGenerationPipeline,
                            TextClassificationPipeline, TextGenerationPipeline, TokenClassificationPipeline,
                            TranslationPipeline, ZeroShotImageClassificationPipeline)

    for function in (metrics.accuracy, metrics.macro_f1, metrics.entity_scores, metrics.squad_scores,
                     metrics.perplexity, metrics.bleu, metrics.chrf):
        registry.add_metric(function.__name__, function)
    registry.add_task("text_generation", pipeline_class=TextGenerationPipeline, default_model="gpt2",
                      metrics=("perplexity",), model_role="causal_lm")
    # encoder tasks: their default models come from mf-bert (install it, or pass model=)
    registry.add_task("fill_mask", pipeline_class=FillMaskPipeline, default_model="bert_base_uncased",
                      metrics=("perplexity",), model_role="masked_lm", objective=tasks.MaskedLanguageModelling())
    registry.add_task("text_classification", pipeline_class=TextClassificationPipeline,
                      default_model="txtcls_bert_base_uncased", metrics=("accuracy", "macro_f1"),
                      model_role="sequence_classification", objective=tasks.SequenceClassification())
    registry.add_task("token_classification", pipeline_class=TokenClassificationPipeline,
                      default_model="tokcls_bert_base_chinese", metrics=("entity_scores",),
                      model_role="token_classification", objective=tasks.TokenClassification())
    registry.add_task("question_answering", pipeline_class=QuestionAnsweringPipeline,
                      default_model="qa_bert_base_uncased", metrics=("squad_scores",),
                      model_role="question_answering", objective=tasks.QuestionAnswering())
    # encoder-decoder tasks: their default model comes from mf-t5
    registry.add_task("translation", pipeline_class=TranslationPipeline, default_model="t5_small",
                      metrics=("bleu", "chrf"), model_role="seq2seq_lm", objective=tasks.Translation())
    registry.add_task("text2text_generation", pipeline_class=Text2TextGenerationPipeline, default_model="t5_small",
                      metrics=("bleu", "chrf"), model_role="seq2seq_lm", objective=tasks.Translation())
    registry.add_task("span_corruption", model_role="seq2seq_lm", objective=tasks.SpanCorruption())
    registry.add_task("feature_extraction", pipeline_class=FeatureExtractionPipeline, model_role="base")
    # image tasks: their default model comes from mf-vision
    registry.add_task("image_classification", pipeline_class=ImageClassificationPipeline, default_model="vit_base_p16",
                      metrics=("accuracy",), model_role="image_classification",
                      objective=tasks.ImageClassification())
    registry.add_task("masked_image_modeling", pipeline_class=MaskedImageModelingPipeline,
                      default_model="mae_vit_base_p16", model_role="masked_image_modeling",
                      objective=tasks.MaskedImageModelling())
    registry.add_task("zero_shot_image_classification", pipeline_class=ZeroShotImageClassificationPipeline,
                      default_model="clip_vit_b_32", model_role="image_text", objective=tasks.ContrastiveImageText())
    registry.add_task("contrastive_language_image_pretrain", pipeline_class=ZeroShotImageClassificationPipeline,
                      default_model="clip_vit_b_32", model_role="image_text", objective=tasks.ContrastiveImageText())


@hookimpl
def mf_register_datasets(registry):
    from .data.formats import JsonlFormat, MindRecordFormat, TextFormat
    from .data.images import IMAGE_FORMATS

    for handler in (MindRecordFormat(), JsonlFormat(), TextFormat(), *IMAGE_FORMATS):
        registry.add_dataset_format(handler.name, handler)


@hookimpl
def mf_register_pet_methods(registry):
    from .pet import apply_bitfit, apply_lora

    registry.add_pet_method("lora", apply_lora)
    registry.add_pet_method("bitfit", apply_bitfit)
