"""The `mf` command. Sub-commands live in mf.commands; plugins add theirs through
the `mf_register_commands` hook."""
import argparse
import sys
from typing import Callable, List, Optional

from . import __version__


class CommandLine:
    """What `mf_register_commands(cli)` receives: a way to add sub-commands."""

    def __init__(self):
        self.parser = argparse.ArgumentParser(prog="mf", description="mf: a MindSpore large-model kit")
        self.parser.add_argument("--version", action="version", version=f"mf {__version__}")
        self.subparsers = self.parser.add_subparsers(dest="command", metavar="COMMAND")

    def add_command(self, name: str, help: str, run: Callable[[argparse.Namespace], Optional[int]]):
        """Add `mf <name>`; returns its argparse parser to add arguments to. run(args) -> exit code."""
        if name in self.subparsers.choices:
            raise ValueError(f"`mf {name}` is already a command")
        parser = self.subparsers.add_parser(name, help=help, description=help)
        parser.set_defaults(run=run)
        return parser

    def remove_commands(self, names):
        """Take back sub-commands (those a failing plugin hook had added)."""
        for name in names:
            self.subparsers.choices.pop(name, None)
        self.subparsers._choices_actions = [a for a in self.subparsers._choices_actions if a.dest not in names]


def build_cli() -> CommandLine:
    from . import commands
    from .plugins import _describe, plugin_set

    cli = CommandLine()
    commands.register(cli)
    plugins = plugin_set()
    by_module = {id(info.module): info for info in plugins.infos if info.module is not None}
    for impl in plugins.manager.hook.mf_register_commands.get_hookimpls():
        before = set(cli.subparsers.choices)
        try:
            impl.function(cli=cli)
        except Exception as exc:  # one plugin's broken command must not take `mf` down
            cli.remove_commands(set(cli.subparsers.choices) - before)
            info = by_module.get(id(impl.plugin))
            if info is not None:
                info.command_error = f"mf_register_commands raised {_describe(exc)}"
    return cli


# the commands that compile graphs reuse them across processes unless MF_COMPILE_CACHE=0 (mf.compile_cache)
COMPILING_COMMANDS = {"run", "generate", "chat", "demo", "demo-vision"}


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the `mf` console script."""
    from .errors import MFError

    cli = build_cli()
    args = cli.parser.parse_args(argv)
    if not getattr(args, "run", None):
        cli.parser.print_help()
        return 2
    # (a sub-command may have an argument named `command` of its own: mf launch's program and arguments)
    if isinstance(args.command, str) and args.command in COMPILING_COMMANDS:
        from . import compile_cache

        compile_cache.enable_from_environment(default=True)  # a second run of the same shapes compiles nothing
    try:
        return args.run(args) or 0
    except (MFError, FileNotFoundError, NotADirectoryError) as exc:
        print(f"mf {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
