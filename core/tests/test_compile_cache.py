"""Compiled graphs shared between processes (mf.compile_cache): a later process loads exactly the graph of the
same cell, shapes, constants and code, whatever the order it compiles them in, and gives the same numbers."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# A small network with the parts a cached graph must get right: a weight (bound by name on load), keyed dropout
# (a shared module-level Parameter that changes between calls), a constant folded from an attribute (scale),
# and a graph that reads a Parameter from outside its cell (OUTSIDE: such graphs must never be stored).
SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    import mindspore as ms
    from mindspore import Parameter, Tensor, nn
    from mf import compile_cache
    from mf.nn import dropout as keyed

    compile_cache.enable()
    ms.set_context(mode=ms.GRAPH_MODE)
    OUTSIDE = Parameter(Tensor(np.float32(1.0)), name="outside_value", requires_grad=False)

    class Net(nn.Cell):
        def __init__(self, scale):
            super().__init__()
            self.dense = nn.Dense(8, 8)
            self.drop = keyed.Dropout(0.5)
            self.scale = scale

        def construct(self, x):
            return self.drop(self.dense(x)) * self.scale

    class ReadsOutside(nn.Cell):
        def construct(self, x):
            return x * OUTSIDE

    scale, rows_list = float(sys.argv[1]), [int(r) for r in sys.argv[2].split(",")]
    ms.set_seed(0)
    net = Net(scale)
    net.dense.weight.set_data(Tensor(np.arange(64, dtype=np.float32).reshape(8, 8) / 64))
    keyed.key_dropouts(net)
    net.set_train(True)
    outputs = {}
    for step, rows in enumerate(rows_list):
        keyed.set_dropout_key(seed=1, step=step)
        x = Tensor(np.ones((rows, 8), np.float32))
        outputs[f"{rows}@{step}"] = net(x).asnumpy().round(6).tolist()
    outside = ReadsOutside()
    first = float(outside(Tensor(np.float32(2.0))).asnumpy())
    OUTSIDE.set_data(Tensor(np.float32(3.0)))
    second = float(outside(Tensor(np.float32(2.0))).asnumpy())
    print(json.dumps({"outputs": outputs, "outside": [first, second], "stats": compile_cache.statistics()}))
''')


def run(tmp_path, scale, rows, store=None):
    script = tmp_path / "net.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "MF_COMPILE_CACHE": str(store or tmp_path / "graphs")}
    for name in ("MS_COMPILER_CACHE_ENABLE", "MS_COMPILER_CACHE_PATH"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, str(script), str(scale), rows], capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_graphs_are_reused_in_any_order_with_the_same_numbers_and_never_wrongly(tmp_path):
    first = run(tmp_path, 2.0, "4,2,4")
    # two shapes of Net (the third call reuses the first graph in-process) and ReadsOutside, which is not stored
    assert first["stats"] == {"hits": 0, "misses": 2, "uncached": 1}
    assert first["outside"] == [2.0, 6.0]
    stored = sorted(p.name for p in (tmp_path / "graphs").iterdir())
    assert len([name for name in stored if name.endswith(".mindir")]) == 2

    # another process, the shapes in the other order: both graphs come from the store; keyed dropout follows
    # the live key (each step's mask differs), so the numbers equal those compiled afresh
    second = run(tmp_path, 2.0, "2,4,2")
    assert second["stats"] == {"hits": 2, "misses": 0, "uncached": 1}
    assert second["outside"] == [2.0, 6.0]  # the live OUTSIDE value, not one frozen in a file
    fresh = run(tmp_path, 2.0, "2,4,2", store=tmp_path / "elsewhere")
    assert fresh["stats"]["hits"] == 0 and second["outputs"] == fresh["outputs"]
    assert second["outputs"]["2@0"] != second["outputs"]["2@2"]  # the key reached the loaded graph

    # a different constant folded into the graph is a different graph
    scaled = run(tmp_path, 3.0, "2")
    assert scaled["stats"] == {"hits": 0, "misses": 1, "uncached": 1}
    np.testing.assert_allclose(scaled["outputs"]["2@0"], np.array(second["outputs"]["2@0"]) * 1.5, rtol=1e-5)


@pytest.mark.slow
def test_a_damaged_stored_graph_is_compiled_again(tmp_path):
    first = run(tmp_path, 2.0, "2")
    graph = next((tmp_path / "graphs").glob("*.mindir"))
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF
    graph.write_bytes(bytes(data))
    again = run(tmp_path, 2.0, "2")
    assert again["stats"] == {"hits": 0, "misses": 1, "uncached": 1} and again["outputs"] == first["outputs"]
    assert run(tmp_path, 2.0, "2")["stats"]["hits"] == 1  # stored whole again


def test_zero_turns_it_off(monkeypatch):
    from mf import compile_cache

    monkeypatch.setenv("MF_COMPILE_CACHE", "0")
    assert compile_cache.enable_from_environment(default=True) is False


def test_mf_cache_shows_and_clears_the_store_by_age(tmp_path, monkeypatch, capsys):
    from mf.cli import main

    monkeypatch.setenv("MF_HOME", str(tmp_path))
    store = tmp_path / "graphs"
    assert main(["cache"]) == 0
    assert "empty" in capsys.readouterr().out
    store.mkdir()
    week = 7 * 86400
    for name, age in (("old", 2 * week), ("new", 0)):
        (store / f"{name}.mindir").write_bytes(b"x" * 1000)
        (store / f"{name}.sha256").write_text("digest")
        stamp = os.path.getmtime(store / f"{name}.mindir") - age
        os.utime(store / f"{name}.mindir", (stamp, stamp))
    assert main(["cache"]) == 0
    assert "2 graphs" in capsys.readouterr().out
    assert main(["cache", "clear", "--older-than", "7"]) == 0
    assert "removed 1 compiled graph " in capsys.readouterr().out
    assert sorted(p.name for p in store.iterdir()) == ["new.mindir", "new.sha256"]
    assert main(["cache", "clear"]) == 0
    assert not list(store.iterdir())
    assert main(["cache", "--older-than", "3"]) == 2  # --older-than only goes with clear
