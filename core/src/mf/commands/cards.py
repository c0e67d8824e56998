"""`mf cards`: a model card per installed family, written from what its plugin registers.

    mf cards --output docs/models        # docs/models/<model_type>.md and an index, README.md

The family's own words (what it is, measured speed) come from `card=` in add_model_family; the rest
(classes by role, presets with sizes and where their weights are, tasks, tokenizer, how to get
weights, an example that the test suite runs) is generated, so the cards cannot drift from the code.
"""
from pathlib import Path


def register(cli):
    parser = cli.add_command("cards", "write a model card (markdown) for each installed model family", run)
    parser.add_argument("--output", default="docs/models", help="directory for <model_type>.md and README.md")


def _size(preset) -> str:
    from ..auto import AutoConfig

    count = _parameter_count(preset.name)
    if not count:
        return ""
    return f"{count / 1e9:.2f} B" if count >= 1e9 else f"{count / 1e6:.1f} M"


def _weights(preset, registry) -> str:
    base = registry.preset(preset.weights_from) if preset.weights_from else preset
    prefix = f"{base.name}'s: " if preset.weights_from else ""
    if base.hub_repo:
        return f"{prefix}[`{base.hub_repo}`](https://huggingface.co/{base.hub_repo})"
    return prefix + (base.weights_note or "none published")


def example(family, presets) -> str:
    """Python that runs as written with the family installed (random weights of its smallest preset)."""
    small = min(presets, key=lambda p: _parameter_count(p.name))
    lines = ["from mf import AutoConfig, AutoModel, AutoTokenizer",
             f'config = AutoConfig.from_pretrained("{small.name}")',
             "model = AutoModel.from_config(config)              # random weights",
             f"assert type(model).__name__ == \"{family.model_class().__name__}\""]
    if family.default_role == "image_text":  # captions and images through the family's processor
        lines[0] = "from mf import AutoConfig, AutoModel, AutoProcessor"
        lines += ["import numpy as np", f'processor = AutoProcessor.from_pretrained("{small.name}")',
                  'inputs = processor(text=["a photo of a cat", "a photo of a dog"],',
                  "                   images=[np.zeros((config.image_size, config.image_size, 3), np.uint8)])",
                  "model.set_train(False)",
                  'logits_per_image, _ = model(inputs["input_ids"], inputs["pixel_values"], inputs["attention_mask"])',
                  "print(logits_per_image.shape)                      # (1, 2): the image against each caption"]
    elif family.tokenizer_class is not None and small.tokenizer is not None:
        lines += [f'tokenizer = AutoTokenizer.from_pretrained("{small.name}")',
                  'ids = tokenizer("Hello world", add_special_tokens=False)["input_ids"]']
        if family.default_role in ("causal_lm", "seq2seq_lm"):
            lines += ["out = model.generate([ids], max_new_tokens=5)",
                      "print(tokenizer.decode(out[0]))"]
        else:
            lines += ["import numpy as np", "from mindspore import Tensor",
                      "model.set_train(False)",
                      "out = model(Tensor(np.array([ids], np.int32)))",
                      "print([o.shape for o in out] if isinstance(out, tuple) else out.shape)"]
    return "\n".join(lines)


def _parameter_count(name):
    from ..auto import AutoConfig

    config = AutoConfig.from_pretrained(name)
    if hasattr(config, "transformer_shape"):
        return config.transformer_shape().parameters()
    # a shape transformer_shape() does not describe (an encoder-decoder) may count its own parameters
    return config.parameter_count() if hasattr(config, "parameter_count") else 0


def card(model_type: str) -> str:
    """The markdown card of one registered model family."""
    from ..plugins import get_registry

    registry = get_registry()
    family = registry.family(model_type)
    source = registry.models.entries[model_type].source
    presets = [p for _, p in registry.presets.items() if p.model_type == model_type]
    tasks = sorted({p.task for p in presets})
    hub_preset = next((p for p in presets if p.hub_repo), None)
    lines = [f"# {model_type} ({source.distribution})", ""]
    if family.card:
        lines += [family.card.strip(), ""]
    lines += ["## Install", "", "```sh", f"pip install mf-core {source.distribution}", "```", "",
              "## Classes", "", "| role | class |", "|---|---|"]
    lines += [f"| {role}{' (AutoModel)' if role == family.default_role else ''} | `{cls.__name__}` |"
              for role, cls in family.model_classes.items()]
    lines += [f"| config | `{family.config_class.__name__}` |"]
    if family.tokenizer_class is not None:
        lines += [f"| tokenizer | `{family.tokenizer_class.__name__}` |"]
    if family.processor_class is not None:
        lines += [f"| processor | `{family.processor_class.__name__}` |"]
    lines += ["", "## Presets", "", "| preset | parameters | task | weights | description |", "|---|---|---|---|---|"]
    for preset in presets:
        pet = f" (PET: {preset.pet['pet_method']})" if preset.pet else ""
        lines.append(f"| `{preset.name}` | {_size(preset)} | {preset.task}{pet} | {_weights(preset, registry)} | "
                     f"{preset.description} |")
    lines += ["", f"Tasks: {', '.join(tasks)}. Hugging Face `model_type`s it loads: "
                  f"{', '.join(family.hf_model_types) or model_type}.", "", "## Weights", ""]
    if hub_preset is not None:
        lines += ["A preset with a Hub repository downloads its safetensors weights on first use (huggingface_hub's "
                  "cache; `HF_HUB_OFFLINE=1` uses the cache only):", "", "```python",
                  f'model = AutoModel.from_pretrained("{hub_preset.name}")      # {hub_preset.hub_repo}',
                  "```", ""]
    lines += ["Any Hugging Face checkpoint directory or Hub id of this architecture loads the same way "
              "(`AutoModel.from_pretrained(\"owner/name\")`); `mf convert DIR PRESET` stores a local one as a "
              "preset's weights after checking its shape.", "", "## Example", "",
              "Runs as written (the test suite runs it):", "", "```python", example(family, presets), "```", ""]
    return "\n".join(lines)


def run(args) -> int:
    from ..plugins import get_registry

    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    registry = get_registry()
    index = ["# Model cards", "", "Generated by `mf cards` from what each installed plugin registers.", "",
             "| family | distribution | presets |", "|---|---|---|"]
    for model_type in registry.models.names():
        (output / f"{model_type}.md").write_text(card(model_type), encoding="utf-8")
        presets = [p.name for _, p in registry.presets.items() if p.model_type == model_type]
        source = registry.models.entries[model_type].source.distribution
        index.append(f"| [{model_type}]({model_type}.md) | {source} | {', '.join(presets)} |")
        print(f"wrote {output / (model_type + '.md')}")
    (output / "README.md").write_text("\n".join(index) + "\n", encoding="utf-8")
    return 0
