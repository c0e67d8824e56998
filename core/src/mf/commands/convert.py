"""`mf convert`: turn a Hugging Face checkpoint into an mf model directory (or back)."""
from pathlib import Path


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

    target = Path(args.target).expanduser()
    if get_registry().presets.get(args.target) is not None:
        target = mf_home() / args.target
    model = AutoModel.from_pretrained(args.source)
    model.save_pretrained(target, format=args.to, max_shard_size=args.max_shard_size)
    try:
        AutoTokenizer.from_pretrained(args.source).save_pretrained(target)
        tokenizer_note = " and its tokenizer"
    except Exception as exc:  # a checkpoint without tokenizer files is still a model
        tokenizer_note = f" (no tokenizer copied: {exc})"
    print(f"wrote {model.config.model_type} model ({model.num_parameters():,} parameters){tokenizer_note} "
          f"to {target} in {args.to} layout")
    return 0
