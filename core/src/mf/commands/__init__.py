"""mf's own sub-commands, one module each."""
from . import convert, data, demo, generate, plugins_cmd


def register(cli):
    for module in (plugins_cmd, convert, generate, data, demo):
        module.register(cli)
