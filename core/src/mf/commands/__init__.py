"""mf's own sub-commands, one module each."""
from . import convert, demo, generate, plugins_cmd


def register(cli):
    for module in (plugins_cmd, convert, generate, demo):
        module.register(cli)
