"""mf's own sub-commands, one module each."""
from . import convert, data, demo, generate, plugins_cmd, run


def register(cli):
    for module in (plugins_cmd, convert, generate, data, run, demo):
        module.register(cli)
