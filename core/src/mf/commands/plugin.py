"""`mf plugin new mf-NAME`: scaffold a model-family distribution (see docs/plugins.md)."""
from pathlib import Path


def register(cli):
    parser = cli.add_command("plugin", "tools for plugin authors (mf plugin new mf-NAME)", run)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    new = actions.add_parser("new", help="write a complete model-family distribution whose tests pass as written")
    new.add_argument("distribution", help="distribution name, e.g. mf-mymodel")
    new.add_argument("--directory", default=None, help="where to write it (default: ./DISTRIBUTION)")


def run(args) -> int:
    from ..scaffold import create_plugin, names_for

    if getattr(args, "action", None) != "new":
        print("usage: mf plugin new mf-NAME [--directory DIR]")
        return 2
    directory = Path(args.directory or args.distribution)
    files = create_plugin(args.distribution, directory)
    names = names_for(args.distribution)
    print(f"wrote {len(files)} files of {args.distribution} into {directory}/")
    print(f"next:\n  pip install -e {directory}[test]\n  mf plugins\n  pytest {directory}/tests\n"
          f"  mf run --model_type {names['name']}_tiny --train_dataset TEXT.txt --max_steps 100 --output_dir out")
    return 0
