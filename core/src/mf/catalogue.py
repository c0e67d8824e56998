"""The exact names that mf's first-party distributions provide.

Asking for one of these when its distribution is not installed says which one to install
(`mf.BertConfig` -> "pip install mf-bert"). Matching is exact: a name that is not listed here
is simply unknown (third-party names resolve once their plugin is installed). A test checks that
every name an installed first-party plugin registers or exports is listed, so this stays true.
"""
from typing import Dict, Optional, Set

FIRST_PARTY: Dict[str, Dict[str, Set[str]]] = {
    "mf-gpt": {
        "model_types": {"gpt2", "pangualpha", "gpt_pangu", "bloom"},
        "presets": {"gpt2", "gpt2_small", "gpt2_13b", "gpt2_52b", "gpt2_lora", "gpt2_tiny",
                    "pangualpha_2_6b", "pangualpha_13b", "pangualpha_tiny",
                    "bloom_560m", "bloom_7.1b", "bloom_65b", "bloom_176b", "bloom_560m_lora", "bloom_tiny"},
        "names": {"GPT2Config", "GPT2Model", "GPT2LMHeadModel", "GPT2Tokenizer", "GPT2Processor",
                  "PanguAlphaConfig", "PanguAlphaModel", "PanguAlphaHeadModel", "PanguAlphaTokenizer",
                  "PanguAlphaProcessor", "GPTPanguForCausalLM", "BloomConfig", "BloomModel", "BloomLMHeadModel",
                  "BloomForCausalLM", "BloomTokenizer"},
    },
    "mf-llama": {
        "model_types": {"llama"},
        "presets": {"llama_7b", "llama_13b", "llama_65b", "llama_7b_lora", "llama_tiny"},
        "names": {"LlamaConfig", "LlamaModel", "LlamaForCausalLM", "LlamaTokenizer"},
    },
    "mf-glm": {
        "model_types": {"glm", "chatglm"},
        "presets": {"glm_6b", "glm_6b_lora", "glm_6b_chat", "glm_tiny"},
        "names": {"GLMConfig", "GLMModel", "GLMForCausalLM", "GLMForPreTraining", "GLMChatModel",
                  "ChatGLMTokenizer"},
    },
    "mf-bert": {
        "model_types": {"bert"},
        "presets": {"bert_base_uncased", "txtcls_bert_base_uncased", "txtcls_bert_base_uncased_mnli",
                    "tokcls_bert_base_chinese", "tokcls_bert_base_chinese_cluener", "qa_bert_base_uncased",
                    "qa_bert_base_chinese_uncased", "bert_tiny"},
        "names": {"BertConfig", "BertModel", "BertForPreTraining", "BertForMaskedLM",
                  "BertForSequenceClassification", "BertForMultipleChoice", "BertForTokenClassification",
                  "BertForQuestionAnswering", "BertTokenizer", "BertProcessor"},
    },
    "mf-t5": {
        "model_types": {"t5"},
        "presets": {"t5_small", "t5_base", "t5_v1_1_small", "t5_tiny"},
        "names": {"T5Config", "T5Model", "T5ForConditionalGeneration", "T5Tokenizer", "T5Processor"},
    },
    "mf-vision": {
        "model_types": {"vit", "dinov2", "swin", "mae", "vit_mae", "clip"},
        "presets": {"vit_base_p16", "swin_base_p4w7", "swin_tiny_p4w7", "dinov2_small", "mae_vit_base_p16",
                    "clip_vit_b_32", "clip_vit_b_16", "clip_vit_l_14", "clip_vit_l_14@336", "vit_tiny", "swin_tiny",
                    "dinov2_tiny", "mae_tiny", "clip_tiny"},
        "names": {"ViTConfig", "ViTModel", "ViTForImageClassification", "ViTImageProcessor", "ViTProcessor",
                  "Dinov2Config", "Dinov2Model", "Dinov2ForImageClassification",
                  "SwinConfig", "SwinModel", "SwinForImageClassification", "SwinImageProcessor", "SwinProcessor",
                  "ViTMAEConfig", "ViTMAEModel", "ViTMAEForPreTraining", "MAEProcessor",
                  "CLIPConfig", "CLIPModel", "CLIPTokenizer", "CLIPImageProcessor", "CLIPProcessor"},
    },
}


def first_party_distribution(name: str, kind: Optional[str] = None) -> Optional[str]:
    """The first-party distribution that provides `name` (kind: model_types, presets or names; None: any)."""
    kinds = (kind,) if kind else ("model_types", "presets", "names")
    for dist, provides in FIRST_PARTY.items():
        if any(name in provides[k] for k in kinds):
            return dist
    return None
