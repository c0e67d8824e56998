"""mf's own sub-commands, one module each."""
from . import convert, data, demo, generate, launch, plan, plugin, plugins_cmd, run


def register(cli):
    for module in (plugins_cmd, plugin, convert, generate, data, run, launch, plan, demo):
        module.register(cli)
