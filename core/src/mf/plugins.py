"""Finding plugins (entry-point group ``mf.plugins``) and building the registry from them.

Core's own built-ins are an ordinary plugin (entry point ``core = mf.builtins``
of mf-core). A plugin that fails to import, or whose hook raises, is recorded
with its error and skipped; the others keep working. Two plugins registering
the same name is an error that names both.
"""
import threading
import traceback
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import importlib_metadata
import pluggy

from . import hookspecs
from .errors import PluginConflictError
from .registry import Registry, Source

ENTRY_POINT_GROUP = "mf.plugins"
REGISTRATION_HOOKS = ("mf_register_models", "mf_register_tasks",
                      "mf_register_pet_methods", "mf_register_datasets")


@dataclass
class PluginInfo:
    """One installed plugin, as `mf plugins` shows it."""
    source: Source
    version: str
    module: object = None
    error: Optional[str] = None
    registered: Dict[str, List[str]] = field(default_factory=dict)


class PluginSet:
    """A plugin manager, the plugins it loaded, and the registry they filled."""

    def __init__(self):
        self.manager = pluggy.PluginManager("mf")
        self.manager.add_hookspecs(hookspecs)
        self.infos: List[PluginInfo] = []
        self.registry = Registry()

    def add(self, source: Source, version: str, load):
        """Load one plugin module (load() returns it); record the error if it raises."""
        info = PluginInfo(source, version)
        self.infos.append(info)
        try:
            info.module = load()
            self.manager.register(info.module, name=f"{source.distribution}:{source.plugin}")
        except Exception as exc:  # a broken plugin must not take the others down
            info.error = _describe(exc)
        return info

    def build(self) -> Registry:
        """Run the registration hooks plugin by plugin, attributing each entry to its source."""
        by_module = {id(info.module): info for info in self.infos if info.module is not None}
        for hook_name in REGISTRATION_HOOKS:
            for impl in getattr(self.manager.hook, hook_name).get_hookimpls():
                info = by_module[id(impl.plugin)]
                if info.error:
                    continue
                self.registry.current_source = info.source
                try:
                    impl.function(registry=self.registry)
                except PluginConflictError:
                    raise
                except Exception as exc:
                    info.error = f"{hook_name} raised {_describe(exc)}"
                    self.registry.drop_source(info.source)
                    self.manager.unregister(info.module)
        for info in self.infos:
            info.registered = self.registry.registered_by(info.source)
        return self.registry


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def discover() -> PluginSet:
    """Load every installed plugin and build the registry."""
    plugins = PluginSet()
    seen = set()
    for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        version = ep.dist.version if ep.dist is not None else "?"
        if (dist, ep.value) in seen:  # the same distribution found twice on sys.path
            continue
        seen.add((dist, ep.value))
        plugins.add(Source(dist, ep.value), version, ep.load)
    if not any(info.source.plugin == "mf.builtins" for info in plugins.infos):
        # Running from a source tree without mf-core's metadata: core still registers
        # through the same hooks.
        from . import builtins
        plugins.add(Source("mf-core", "mf.builtins"), "source", lambda: builtins)
    plugins.build()
    return plugins


_lock = threading.Lock()
_current: Optional[PluginSet] = None


def plugin_set() -> PluginSet:
    """The process-wide plugin set, discovered on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = discover()
        return _current


def get_registry() -> Registry:
    """The process-wide registry."""
    return plugin_set().registry


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide pluggy manager (for the trainer's lifecycle hooks)."""
    return plugin_set().manager


def use_plugin_set(plugins: Optional[PluginSet]):
    """Replace the process-wide plugin set (tests), or reset it with None."""
    global _current
    with _lock:
        _current = plugins
