"""mf's own sub-commands, one module each."""
from . import cards, chat, convert, data, demo, generate, launch, plan, plugin, plugins_cmd, run


def register(cli):
    for module in (plugins_cmd, plugin, convert, generate, chat, data, run, launch, plan, demo, cards):
        module.register(cli)
