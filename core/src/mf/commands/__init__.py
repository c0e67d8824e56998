"""mf's own sub-commands, one module each."""
from . import convert, demo, plugins_cmd


def register(cli):
    for module in (plugins_cmd, convert, demo):
        module.register(cli)
