"""mf's own sub-commands, one module each."""
from . import convert, data, demo, generate, launch, plan, plugins_cmd, run


def register(cli):
    for module in (plugins_cmd, convert, generate, data, run, launch, plan, demo):
        module.register(cli)
