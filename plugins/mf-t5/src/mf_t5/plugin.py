"""What mf-t5 registers with mf."""
from mf import hookimpl

from . import convert
from .card import CARD
from .configuration import T5Config
from .modeling import T5ForConditionalGeneration, T5Model
from .presets import T5_PRESETS
from .processing import T5Processor
from .tokenization import T5Tokenizer

# the mf.PLUGIN_API versions this plugin works with
MF_PLUGIN_API = ">=1.0,<2"

ROLES = {"base": T5Model, "seq2seq_lm": T5ForConditionalGeneration}


@hookimpl
def mf_register_models(registry):
    registry.add_model_family("t5", T5Config, ROLES, default_role="seq2seq_lm", tokenizer_class=T5Tokenizer,
                              processor_class=T5Processor, converter=convert, hf_model_types=("t5",), pet_target_modules=("q", "v"), card=CARD)
    registry.export(T5Config, T5Tokenizer, T5Processor, *ROLES.values())
    for name, (description, task, config, hub_repo) in T5_PRESETS.items():
        weights = {"hub_repo": hub_repo} if hub_repo else {"weights_note": f"{name} is a test size; use random "
                                                                          f"weights or train it"}
        # a preset with published weights takes the vocabulary of their repository (T5's spiece.model)
        tokenizer = {"hub_repo": hub_repo} if hub_repo else {}
        registry.add_preset(name, "t5", config, description=description, task=task, tokenizer=tokenizer,
                            processor={}, **weights)
