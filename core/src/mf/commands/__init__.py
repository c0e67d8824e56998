"""mf's own sub-commands, one module each."""
from . import cache, cards, chat, convert, data, demo, demo_vision, generate, launch, plan, plugin, plugins_cmd, run


def register(cli):
    for module in (plugins_cmd, plugin, convert, generate, chat, data, run, launch, plan, demo, demo_vision, cards,
                   cache):
        module.register(cli)
