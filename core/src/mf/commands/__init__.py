"""mf's own sub-commands, one module each."""
from . import convert, data, demo, generate, launch, plugins_cmd, run


def register(cli):
    for module in (plugins_cmd, convert, generate, data, run, launch, demo):
        module.register(cli)
