"""Core's own plugin: what mf-core registers, through the same hooks as any plugin."""
from .hookspecs import hookimpl


@hookimpl
def mf_register_tasks(registry):
    from .pipelines import (FeatureExtractionPipeline, FillMaskPipeline, TextClassificationPipeline,
                            TextGenerationPipeline)

    registry.add_task("text_generation", pipeline_class=TextGenerationPipeline, default_model="gpt2",
                      metrics=("perplexity",), model_role="causal_lm")
    # encoder tasks: their default models come from mf-bert (install it, or pass model=)
    registry.add_task("fill_mask", pipeline_class=FillMaskPipeline, default_model="bert_base_uncased",
                      model_role="masked_lm")
    registry.add_task("text_classification", pipeline_class=TextClassificationPipeline,
                      default_model="txtcls_bert_base_uncased", metrics=("accuracy",),
                      model_role="sequence_classification")
    registry.add_task("feature_extraction", pipeline_class=FeatureExtractionPipeline, model_role="base")


@hookimpl
def mf_register_datasets(registry):
    from .data.formats import JsonlFormat, MindRecordFormat, TextFormat

    for handler in (MindRecordFormat(), JsonlFormat(), TextFormat()):
        registry.add_dataset_format(handler.name, handler)


@hookimpl
def mf_register_pet_methods(registry):
    from .pet import apply_bitfit, apply_lora

    registry.add_pet_method("lora", apply_lora)
    registry.add_pet_method("bitfit", apply_bitfit)
