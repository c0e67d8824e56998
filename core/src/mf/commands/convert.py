"""`mf convert`: turn a Hugging Face checkpoint into an mf model directory (or back)."""
from pathlib import Path
from ..fileio import user_path


def register(cli):
    parser = cli.add_command(
        "convert", "convert a Hugging Face checkpoint directory to mf (or an mf model to Hugging Face)", run)
    parser.add_argument("source", help="a Hugging Face checkpoint directory, or an mf model directory/preset")
    parser.add_argument("target", help="a preset name (writes $MF_HOME/<preset>) or an output directory")
    parser.add_argument("--to", choices=("mf", "huggingface"), default="mf", help="output layout (default: mf)")
    parser.add_argument("--max-shard-size", type=int, default=None, help="split weights into shards of this many bytes")


def run(args) -> int:
    from ..auto import AutoModel, AutoTokenizer
    from ..plugins import get_registry
    from ..resolve import mf_home

    target = user_path(args.target)
    preset = get_registry().presets.get(args.target)
    if preset is not None:
        target = mf_home() / args.target
    model = AutoModel.from_pretrained(args.source)
    if preset is not None:
        check_fits_preset(model.config, preset, args)  # before anything is written
    model.save_pretrained(target, format=args.to, max_shard_size=args.max_shard_size)
    try:
        AutoTokenizer.from_pretrained(args.source).save_pretrained(target)
        tokenizer_note = " and its tokenizer"
    except Exception as exc:  # a checkpoint without tokenizer files is still a model
        tokenizer_note = f" (no tokenizer copied: {exc})"
    print(f"wrote {model.config.model_type} model ({model.num_parameters():,} parameters){tokenizer_note} "
          f"to {target} in {args.to} layout")
    return 0


def shape_differences(config, preset_config):
    """The fields in which two configs of a family describe differently shaped models."""
    if hasattr(config, "transformer_shape") and hasattr(preset_config, "transformer_shape"):
        ours, theirs = vars(config.transformer_shape()), vars(preset_config.transformer_shape())
        skip = {"attention_dropout"}  # training settings, not the weights' shape
    else:
        ours, theirs = config.to_dict(), preset_config.to_dict()
        skip = {name for name in theirs if "dropout" in name or name.endswith("_token_id")}
    return [f"{name} {ours.get(name)!r} (checkpoint) vs {value!r} (preset)" for name, value in theirs.items()
            if name not in skip and ours.get(name) != value]


def check_fits_preset(config, preset, args):
    """Refuse to store a checkpoint as a preset whose shape it does not have."""
    from ..auto import AutoConfig
    from ..errors import WeightsError

    if config.model_type != preset.model_type:
        raise WeightsError(f"{args.source} is a {config.model_type} model, but preset '{preset.name}' is "
                           f"{preset.model_type}; nothing was written. Convert it into a directory instead: "
                           f"mf convert {args.source} ./{Path(args.source).name}-mf")
    differences = shape_differences(config, AutoConfig.from_pretrained(preset.name))
    if differences:
        raise WeightsError(f"{args.source} does not have the shape of preset '{preset.name}': "
                           f"{'; '.join(differences)}. Nothing was written. Convert it into a directory "
                           f"instead (mf convert {args.source} ./{Path(args.source).name}-mf), or name the "
                           f"preset of its size")
