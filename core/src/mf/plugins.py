"""Finding plugins (entry-point group ``mf.plugins``) and building the registry from them.

Core's own built-ins are an ordinary plugin (entry point ``core = mf.builtins``
of mf-core). A plugin that fails to import, whose hook raises, or that declares a
PLUGIN_API range this mf-core is not in, is recorded with its error and skipped;
the others keep working. Two plugins registering the same name are both skipped
(mf-core's own names win) and `mf plugins` names both with the fix.
"""
import threading
import traceback
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import importlib_metadata
import pluggy

from . import hookspecs
from .errors import PluginConflictError, PluginError
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
    # why it was skipped: "broken" (import or hook failed), "incompatible" (PLUGIN_API), "conflict"
    problem: Optional[str] = None
    # the MF_PLUGIN_API range the plugin declares (None: undeclared)
    api: Optional[str] = None
    registered: Dict[str, List[str]] = field(default_factory=dict)
    # errors of its mf_register_commands hook (its other registrations still work)
    command_error: Optional[str] = None

    def fail(self, problem: str, error: str):
        self.problem, self.error = problem, error


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
            with _loading(source):
                info.module = load()
        except Exception as exc:  # a broken plugin must not take the others down
            info.fail("broken", _describe(exc))
            return info
        info.api = getattr(info.module, "MF_PLUGIN_API", None)
        problem = api_mismatch(info.api, source.distribution)
        if problem:
            info.fail("incompatible", problem)
            return info
        self.manager.register(info.module, name=f"{source.distribution}:{source.plugin}")
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
                    with _loading(info.source):
                        impl.function(registry=self.registry)
                except PluginConflictError as exc:
                    self._skip_conflicting(info, exc)
                except Exception as exc:
                    self._skip(info, "broken", f"{hook_name} raised {_describe(exc)}")
        for info in self.infos:
            info.registered = self.registry.registered_by(info.source)
        return self.registry

    def _skip(self, info: PluginInfo, problem: str, error: str):
        info.fail(problem, error)
        self.registry.drop_source(info.source)
        if self.manager.is_registered(info.module):
            self.manager.unregister(info.module)

    def _skip_conflicting(self, info: PluginInfo, exc: PluginConflictError):
        """Both sides of a name conflict are skipped, except mf-core, whose names are the reference."""
        for side in (exc.first, exc.second):
            other = exc.second if side == exc.first else exc.first
            side_info = next((i for i in self.infos if i.source == side), None)
            if side_info is None or side.distribution == "mf-core":
                continue
            fix = (f"uninstall one of them (pip uninstall {side.distribution} or pip uninstall "
                   f"{other.distribution})" if other.distribution != "mf-core" else
                   f"it reuses a name of mf-core; rename it in {side.distribution}")
            self._skip(side_info, "conflict", f"{exc.kind} '{exc.name}' is registered by both {exc.first} and "
                                              f"{exc.second}; both are skipped: {fix}")
        if info.error is None:  # conflicted with mf-core: this plugin is the one skipped
            self._skip(info, "conflict", f"{exc}")


def api_mismatch(declared: Optional[str], distribution: str) -> Optional[str]:
    """Why a plugin declaring MF_PLUGIN_API `declared` cannot run on this mf-core (None: it can)."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import Version

    from . import PLUGIN_API

    if declared is None:
        return None
    try:
        supported = Version(PLUGIN_API) in SpecifierSet(str(declared))
    except InvalidSpecifier:
        return (f"{distribution} declares MF_PLUGIN_API = {declared!r}, which is not a version range; "
                f"write it like '>=1.0,<2'")
    if supported:
        return None
    return (f"{distribution} supports mf plugin API {declared}, but this mf-core provides PLUGIN_API {PLUGIN_API}; "
            f"install a {distribution} release made for PLUGIN_API {PLUGIN_API} (pip install -U {distribution}) "
            f"or an mf-core whose PLUGIN_API is in {declared}")


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


_lock = threading.RLock()
_current: Optional[PluginSet] = None
_loading_now = threading.local()


class _loading:
    """Marks that this thread is importing or running a plugin, so that re-entering discovery from it
    (a plugin reading `mf.SomeModel` at import time) is a clear error instead of a deadlock."""

    def __init__(self, source: Source):
        self.source = source

    def __enter__(self):
        self.outer = getattr(_loading_now, "source", None)
        _loading_now.source = self.source

    def __exit__(self, *exc):
        _loading_now.source = self.outer


def plugin_set() -> PluginSet:
    """The process-wide plugin set, discovered on first use."""
    global _current
    with _lock:
        loading = getattr(_loading_now, "source", None)
        if _current is None and loading is not None:
            raise PluginError(
                f"plugin {loading} used mf's registry (a plugin-provided `mf.<Name>`, get_registry(), an Auto class) "
                f"while plugins were still loading. At import time and inside registration hooks, import classes "
                f"from their own modules (from mf_gpt.modeling import GPT2Model) and use the registry the hook "
                f"receives; look names up through mf only after loading, e.g. inside functions.")
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
