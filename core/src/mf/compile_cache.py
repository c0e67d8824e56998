"""Compiled graphs reused across processes: MindSpore's compile cache, keyed so that it is safe to share.

MindSpore (2.x) can save each compiled graph as a MindIR file and load it in a later process, which skips
parsing and the front-end passes (most of a large model's compile time). But it names the files by the order
of compilation in the process (`compile_cache_0.mindir`, `_1`, ...), with one directory per process: a
process that compiles the same graphs in another order, or other shapes first, loads the wrong graph (we saw
a crash in a memcpy kernel; with compatible shapes it would be silently wrong numbers). And it notices code
changes only in files outside site-packages reached from the entry script.

mf therefore keeps the shared store itself, keyed by what determines a graph:
  - the graph's code: every mf source file, the source files of every class in the compiled cell tree, the
    MindSpore version;
  - the compiled cell tree: each cell's class and its plain attributes (sizes, flags, configs, primitives'
    attributes, constant tensors' bytes), each parameter's name, shape, dtype and requires_grad;
  - the arguments: tensors' shapes and dtypes (and values, for constant arguments), Python values;
  - the device, the execution mode and the jit options.
Anything it cannot describe makes the key differ from every other process's (a miss, never a wrong hit).

The protocol with MindSpore: MindSpore looks in a private staging directory of this process; before each
compile mf places there the stored graph for this compile's key under the one file name MindSpore will look
for (its compile counter), and nothing else. So MindSpore can only ever load the graph stored for this very
key; when mf's count of MindSpore's counter is off (a compile mf did not see), the file is simply not found,
MindSpore compiles, and the file it writes tells mf the counter again. A graph compiled afresh is moved into
the store (written whole, then renamed; a SHA-256 beside it is checked before each use).

    MF_COMPILE_CACHE=1 (or a directory)   on, in $MF_HOME/graphs (or there); `mf run` / `mf generate` turn it on
    MF_COMPILE_CACHE=0                    off everywhere
    mf.compile_cache.enable(directory)    the same from Python, before the first graph is compiled
"""
import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import types
import warnings
import weakref
from pathlib import Path
from typing import Optional

import numpy as np

STORE_ENV = "MF_COMPILE_CACHE"
FORMAT = "1"  # bumped when what a key covers changes

# Cell attributes that differ between processes (or between two calls) without changing the graph
_UNSTABLE_ATTRIBUTES = {"_create_time", "_compile_cache", "_phase_cache", "phase_cache", "arguments_key", "_compiled",
                        "_compile_phase", "_id", "_jit_graph_name", "compiled_shapes", "_mf_decoders", "_cells",
                        "_params", "_params_list", "_primitives", "_buffers", "_phase", "_is_check_and_refresh",
                        "current_phase", "_scope"}
_DESCRIBE_DEPTH = 6

_lock = threading.Lock()
_state = {"staging": None, "next_index": 0, "directory": None, "hits": 0, "misses": 0, "uncached": 0}
_code_identity = {}


_OFF = ("0", "off", "false", "no")  # $MF_COMPILE_CACHE values that turn it off


def _store_setting() -> Optional[str]:
    value = os.environ.get(STORE_ENV, "").strip()
    return None if value.lower() in ("",) + _OFF else value


def store_directory() -> Path:
    """Where the shared graphs live: the directory enable() was given, else $MF_COMPILE_CACHE when it names a
    directory, else $MF_HOME/graphs."""
    if _state["directory"] is not None:
        return _state["directory"]
    setting = _store_setting()
    if setting and setting.lower() not in ("1", "on", "true", "yes"):
        from .fileio import user_path

        return user_path(setting)
    from .resolve import mf_home

    return mf_home() / "graphs"


def enable(directory=None) -> bool:
    """Reuse compiled graphs across processes from now on (call before the first graph is compiled: MindSpore
    fixes its cache directory then). Returns False, with a warning, where it cannot be turned on."""
    if os.environ.get(STORE_ENV, "").strip().lower() in _OFF:
        return False
    with _lock:
        if directory is not None:
            from .fileio import user_path

            _state["directory"] = user_path(str(directory))
        if _state["staging"] is not None:
            return True
        try:
            from mindspore._c_expression import GraphExecutor_, JitExecutor_
        except ImportError:  # a MindSpore without these executors: nothing to hook into
            warnings.warn("mf compile cache: this MindSpore build has no graph executors to hook; compiling as usual")
            return False
        if os.environ.get("MS_COMPILER_CACHE_PATH") or os.environ.get("MS_COMPILER_CACHE_ENABLE") == "1":
            warnings.warn("mf compile cache: MindSpore's own compile cache is set (MS_COMPILER_CACHE_*); "
                          "leaving it in charge")
            return False
        staging = Path(tempfile.mkdtemp(prefix="mf-graph-staging-"))
        _state["staging"] = staging
        os.environ["MS_COMPILER_CACHE_ENABLE"] = "1"
        os.environ["MS_COMPILER_CACHE_PATH"] = str(staging) + os.sep
        # mf's key covers the code; MindSpore's own check (the entry script's imports outside site-packages)
        # would refuse graphs whenever the command differs and miss changes in installed code
        os.environ["MS_DEV_FORCE_USE_COMPILE_CACHE"] = "1"
        # ... and its scan of the entry script's imports fails outright for `python -m mf.cli` (a relative
        # import in a script); it only feeds that check, so give it one file of mf's own
        from mindspore.graph import api

        api._get_compile_cache_dep_files = lambda: [__file__]
        for executor in (GraphExecutor_, JitExecutor_):
            if not getattr(executor.compile, "_mf_compile_cache", False):
                executor.compile = _caching(executor.compile)
                executor.set_weights_values = _with_shared_parameters(executor.set_weights_values)
        import atexit

        atexit.register(shutil.rmtree, staging, True)
    return True


@contextlib.contextmanager
def graph_mode():
    """Run the enclosed calls compiled as whole graphs (the fast path on CPU: a Cell called in PyNative mode
    runs its jit graph through PyNative's executor, ~1-2 ms more per SmolLM2 decode step), then restore the
    mode. The store is enabled first when the environment asks for it."""
    import mindspore as ms

    enable_from_environment()
    previous = ms.get_context("mode")
    if previous != ms.GRAPH_MODE:
        ms.set_context(mode=ms.GRAPH_MODE)
    try:
        yield
    finally:
        if previous != ms.GRAPH_MODE:
            ms.set_context(mode=previous)


def enable_from_environment(default: bool = False) -> bool:
    """enable() when $MF_COMPILE_CACHE asks for it (or, with default=True, unless it says 0)."""
    if _store_setting() or (default and STORE_ENV not in os.environ):
        return enable()
    return False


def stored_graphs():
    """(path, bytes, modification time) of each graph in the store, oldest first."""
    graphs = []
    for graph in store_directory().glob("*.mindir"):
        try:
            info = graph.stat()
        except OSError:  # removed meanwhile
            continue
        graphs.append((graph, info.st_size, info.st_mtime))
    return sorted(graphs, key=lambda entry: entry[2])


def clear_store(older_than_days: Optional[float] = None):
    """Remove stored graphs (those not written for older_than_days, or all); returns (graphs, bytes) removed.
    Safe while other processes run: one that was about to load a removed graph compiles it again."""
    cutoff = None if older_than_days is None else time.time() - older_than_days * 86400
    removed, freed = 0, 0
    for graph, size, written in stored_graphs():
        if cutoff is not None and written >= cutoff:
            continue
        for path in (graph, graph.with_suffix(".sha256")):
            try:
                path.unlink()
            except OSError:
                pass
        removed, freed = removed + 1, freed + size
    return removed, freed


def statistics() -> dict:
    """Graphs loaded from the store, compiled afresh (and stored), and compiled without a key, in this process."""
    return {name: _state[name] for name in ("hits", "misses", "uncached")}


def share_parameter(parameter) -> None:
    """Declare a module-level Parameter that graphs read (mf.nn.dropout's key). A stored graph binds its
    parameters by name to the weights MindSpore is given, which are the compiled cell's own; a shared one is
    added to them so that a loaded graph reads the live Parameter, not a copy frozen in the file. Graphs that
    read any other Parameter from outside their cell are never stored."""
    _shared[parameter.name] = parameter


_shared = {}


# ---------------------------------------------------------------------------------------------------------------
# the hooks around MindSpore's compile


def _with_shared_parameters(set_weights_values):
    def set_weights_with_shared(executor, weights=None):
        weights = dict(weights or {})
        for name, parameter in _shared.items():
            weights.setdefault(name, parameter)
        _state["weights"] = set(weights)
        return set_weights_values(executor, weights)

    set_weights_with_shared._mf_compile_cache = True
    return set_weights_with_shared



def _caching(compile_method):
    def compile_with_cache(executor, source, args, kwargs, phase, *rest):
        try:
            key = graph_key(source, args, kwargs, phase, rest)
        except Exception:  # describing failed: compile without the store (a miss is always safe)
            key = None
        with _lock:
            return _compile(compile_method, executor, source, args, kwargs, phase, rest, key)

    compile_with_cache._mf_compile_cache = True
    return compile_with_cache


def _graph_files(staging: Path):
    return {int(match.group(1)): path for path in staging.glob("rank_*/graph_cache/*compile_cache_*.mindir")
            if (match := re.search(r"compile_cache_(\d+)\.mindir$", path.name))}


def _rank_directory(staging: Path) -> Path:
    existing = sorted(staging.glob("rank_*"))
    if existing:
        return existing[0]
    rank = 0
    try:
        from mindspore.communication import get_rank

        rank = get_rank()
    except Exception:  # not a distributed run
        rank = 0
    return staging / f"rank_{rank}"


def _compile(compile_method, executor, source, args, kwargs, phase, rest, key):
    staging = _state["staging"]
    index = _state["next_index"]
    stored = _stored_graph(key) if key else None
    if stored is not None:
        placed = _rank_directory(staging) / "graph_cache" / f"compile_cache_{index}.mindir"
        placed.parent.mkdir(parents=True, exist_ok=True)
        placed.write_bytes(stored)
    before = set(_graph_files(staging).items())
    try:
        result = compile_method(executor, source, args, kwargs, phase, *rest)
    except BaseException:
        _clear(staging)
        raise
    written = [(i, path) for i, path in _graph_files(staging).items() if (i, path) not in before]
    if written:  # MindSpore compiled afresh and wrote its graph under its own counter
        actual, path = written[0]
        _state["next_index"] = actual + 1
        if key is not None and not _reads_outside_parameters(executor, phase):
            _state["misses"] += 1
            _save(key, path)
        else:
            _state["uncached"] += 1
    else:
        _state["next_index"] = index + 1
        if stored is not None:
            _state["hits"] += 1
        else:
            _state["uncached"] += 1
    _clear(staging)
    return result


def _reads_outside_parameters(executor, phase) -> bool:
    """Whether the graph reads a Parameter that is neither its cell's nor shared (see share_parameter): a stored
    copy would hold that Parameter's value at compile time."""
    try:
        names = set(executor.get_params(phase))
    except Exception:  # cannot tell: do not store
        return True
    return bool(names - _state.get("weights", set()))


def _clear(staging: Path) -> None:
    for path in staging.glob("rank_*/graph_cache/*"):
        if path.name.endswith(".mindir") or path.name.startswith("backend_compile_cache"):
            path.unlink(missing_ok=True)


def _stored_graph(key: str) -> Optional[bytes]:
    """The stored graph's bytes, checked against its digest (read once: `mf cache clear` may remove the file
    at any moment)."""
    directory = store_directory()
    graph, digest = directory / f"{key}.mindir", directory / f"{key}.sha256"
    try:
        expected = digest.read_text().strip()
        data = graph.read_bytes()
        if hashlib.sha256(data).hexdigest() == expected:
            return data
    except OSError:
        return None
    # damaged (a cut copy, a flipped byte): compile afresh, which stores it again
    for path in (graph, digest):
        try:
            path.unlink()
        except OSError:
            pass
    return None


def _save(key: str, compiled: Path) -> None:
    directory = store_directory()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        data = compiled.read_bytes()
        for name, content in ((f"{key}.mindir", data), (f"{key}.sha256", hashlib.sha256(data).hexdigest().encode())):
            handle, scratch = tempfile.mkstemp(dir=directory, prefix=".incoming-")
            with os.fdopen(handle, "wb") as out:
                out.write(content)
            os.replace(scratch, directory / name)
    except OSError as error:  # an unwritable or full store: this process compiled anyway
        warnings.warn(f"mf compile cache: cannot store a compiled graph in {directory} ({error}); "
                      f"set {STORE_ENV} to a writable directory or to 0")


# ---------------------------------------------------------------------------------------------------------------
# what a graph is


def graph_key(source, args, kwargs, phase: str, rest=()) -> Optional[str]:
    """A hex key for the graph MindSpore would compile from these, or None where mf cannot tell."""
    import mindspore as ms
    from mindspore import nn

    if not isinstance(source, nn.Cell):
        return None  # a free function: its globals and closure are not described here
    # the phase's stable part names the method (for @jit methods) and the compile kind; ids and counters go
    where = re.sub(r"\.\d+$", "", re.sub(r"\d{10,}", "#", str(phase)))
    description = {
        "format": FORMAT,
        "mindspore": ms.__version__,
        "device": ms.get_context("device_target"),
        "mode": ms.get_context("mode"),
        "context": _context(),
        "where": where,
        "jit": _describe(rest),
        "code": _code(source),
        "cells": _describe_cells(source),
        "args": _describe(args),
        "kwargs": _describe(kwargs),
        "environment": sorted((k, v) for k, v in os.environ.items() if k.startswith("MF_") and not k.startswith(STORE_ENV)),
    }
    text = json.dumps(description, sort_keys=True, default=str)
    if os.environ.get("MF_COMPILE_CACHE_DEBUG"):  # the description behind each key, to find why two differ
        with open(os.environ["MF_COMPILE_CACHE_DEBUG"], "a", encoding="utf-8") as log:
            log.write(text + "\n")
    return hashlib.sha256(text.encode()).hexdigest()


def _context():
    """MindSpore settings that change what a compile produces."""
    import mindspore as ms

    settings = {}
    for name in ("jit_config", "deterministic", "jit_level", "enable_graph_kernel", "graph_kernel_flags"):
        try:
            settings[name] = ms.get_context(name)
        except Exception:  # not a setting of this MindSpore version
            pass
    for name in ("parallel_mode", "device_num", "full_batch", "enable_parallel_optimizer"):
        try:
            settings[name] = ms.get_auto_parallel_context(name)
        except Exception:
            pass
    return _describe(settings)


def _file_digest(path: str) -> str:
    if path not in _code_identity:
        try:
            _code_identity[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            _code_identity[path] = f"unreadable {os.urandom(8).hex()}"  # never equal: a miss
    return _code_identity[path]


def _mf_sources():
    if "mf" not in _code_identity:
        root = Path(__file__).parent
        _code_identity["mf"] = hashlib.sha256("".join(
            f"{path.relative_to(root)}:{_file_digest(str(path))}\n"
            for path in sorted(root.rglob("*.py"))).encode()).hexdigest()
        from . import kernels

        library = kernels.library() if kernels.enabled() else None
        _code_identity["kernels"] = _file_digest(str(library)) if library else "none"
    return _code_identity["mf"], _code_identity["kernels"]


def _code(source):
    """mf's own sources, the kernels library and the source file of every class in the cell tree's MROs."""
    files = set()
    for _, cell in source.cells_and_names():
        for klass in type(cell).__mro__:
            module = sys.modules.get(klass.__module__)
            path = getattr(module, "__file__", None)
            if path and not klass.__module__.startswith("mindspore"):
                files.add(path)
    mf_sources, kernels = _mf_sources()
    return [mf_sources, kernels] + [f"{path}:{_file_digest(path)}" for path in sorted(files)]


def _describe_cells(source):
    from mindspore import Parameter

    cells = []
    for name, cell in source.cells_and_names():
        parameters = [(p.name, tuple(p.shape), str(p.dtype), bool(p.requires_grad))
                      for p in cell._params.values() if isinstance(p, Parameter)]
        attributes = {k: _describe(v, constants=True) for k, v in sorted(vars(cell).items())
                      if k not in _UNSTABLE_ATTRIBUTES and not k.startswith("_lazy")}
        primitives = {k: _describe(v, constants=True) for k, v in sorted(cell._primitives.items())}
        cells.append([name, f"{type(cell).__module__}.{type(cell).__qualname__}", parameters, attributes, primitives,
                      getattr(cell, "_recompute_cell", None) is not None])
    return cells


_tensor_digests = {}


def _tensor_digest(tensor) -> str:
    """SHA-256 of a constant tensor's bytes, remembered while the tensor lives: a model's causal mask can be
    256 MB and is met at every compile."""
    if getattr(tensor, "has_init", False):
        return "init"
    remembered = _tensor_digests.get(id(tensor))
    if remembered is not None and remembered[0]() is tensor:
        return remembered[1]
    digest = hashlib.sha256(np.ascontiguousarray(tensor.asnumpy()).tobytes()).hexdigest()
    try:
        _tensor_digests[id(tensor)] = (weakref.ref(tensor, lambda _, key=id(tensor): _tensor_digests.pop(key, None)),
                                       digest)
    except TypeError:  # not weakly referable: hashed each time
        pass
    return digest


def _describe(value, depth=0, constants=False):
    """A JSON-able description that two processes give alike exactly when the value is alike. constants: tensors
    are folded into the graph (a cell's attributes), so their bytes count; an argument tensor's shape and dtype
    do, unless it is a constant argument."""
    from mindspore import Parameter, Tensor, nn
    from mindspore.ops import Primitive

    if depth > _DESCRIBE_DEPTH:
        return f"<deep {type(value).__name__} {os.urandom(8).hex()}>"  # never equal: a miss
    if value is None or isinstance(value, (bool, int, str)):
        return [type(value).__name__, value]
    if isinstance(value, float):
        return ["float", repr(value)]
    if isinstance(value, Parameter):
        return ["Parameter", value.name, tuple(value.shape), str(value.dtype), bool(value.requires_grad)]
    if isinstance(value, Tensor):
        if constants or getattr(value, "const_arg", False):  # folded into the graph: its bytes count
            return ["Tensor", tuple(value.shape), str(value.dtype), _tensor_digest(value),
                    bool(getattr(value, "__ms_mutable__", False))]
        return ["Tensor", tuple(value.shape), str(value.dtype), bool(getattr(value, "__ms_mutable__", False))]
    if isinstance(value, np.ndarray):
        return ["ndarray", value.shape, str(value.dtype), hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()]
    if isinstance(value, nn.Cell):
        return ["Cell", f"{type(value).__module__}.{type(value).__qualname__}"]  # described with the tree
    if isinstance(value, Primitive):
        return ["Primitive", type(value).__name__, {k: _describe(v, depth + 1, constants) for k, v in sorted(value.attrs.items())}]
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, bool(getattr(value, "__ms_mutable__", False)),
                [_describe(v, depth + 1, constants) for v in value]]
    if isinstance(value, (set, frozenset)):
        return [type(value).__name__, sorted(json.dumps(_describe(v, depth + 1, constants), default=str) for v in value)]
    if isinstance(value, dict):
        return ["dict", [[_describe(k, depth + 1, constants), _describe(v, depth + 1, constants)]
                         for k, v in sorted(value.items(), key=lambda item: repr(item[0]))]]
    if isinstance(value, (types.FunctionType, types.MethodType, types.BuiltinFunctionType, type)):
        return ["callable", getattr(value, "__module__", ""), getattr(value, "__qualname__", repr(value))]
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    if hasattr(value, "to_dict") and callable(value.to_dict):  # configs
        try:
            return [type(value).__qualname__, _describe(value.to_dict(), depth + 1, constants)]
        except Exception:
            pass
    if hasattr(value, "__dict__"):
        return [f"{type(value).__module__}.{type(value).__qualname__}",
                _describe({k: v for k, v in vars(value).items() if k not in _UNSTABLE_ATTRIBUTES}, depth + 1, constants)]
    if hasattr(value, "dtype") and hasattr(value, "__str__"):  # mindspore dtypes
        return ["dtype", str(value)]
    return [type(value).__qualname__, f"<opaque {os.urandom(8).hex()}>"]  # never equal: a miss
