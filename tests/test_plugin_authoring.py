"""Writing a third-party model family: `mf plugin new`, every hook open to a stranger, and the
scaffold built as a wheel and installed beside mf-core alone."""
import csv
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOTCHAN = ROOT / "core" / "src" / "mf" / "data" / "texts" / "botchan.txt"
EXTRAS = Path(__file__).with_name("third_party") / "extras_plugin.py"


def run(command, cwd=None, env=None, timeout=900):
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=timeout,
                            env={**os.environ, **(env or {})})
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def mf(*args, env=None):
    return run([sys.executable, "-m", "mf.cli", *args], env=env)


def paragraphs(count):
    text = BOTCHAN.read_text(encoding="utf-8")
    return [p.replace("\n", " ") for p in text.split("\n\n") if len(p) > 200][:count]


def test_scaffold_refuses_bad_names_and_existing_directories(tmp_path):
    bad = subprocess.run([sys.executable, "-m", "mf.cli", "plugin", "new", "MyModel", "--directory",
                          str(tmp_path / "x")], capture_output=True, text=True)
    assert bad.returncode == 1 and "use mf-NAME" in bad.stderr and not (tmp_path / "x").exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    taken = subprocess.run([sys.executable, "-m", "mf.cli", "plugin", "new", "mf-toy", "--directory",
                            str(tmp_path / "taken")], capture_output=True, text=True)
    assert taken.returncode == 1 and "never overwrites" in taken.stderr
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine" and len(list((tmp_path / "taken").iterdir())) == 1


def test_a_third_party_plugin_uses_every_hook_end_to_end(tmp_path):
    """A scaffolded family plus a second entry point that adds a task with its pipeline, a PET method,
    a dataset format and a sub-command; each is used the way a user would."""
    plugin = tmp_path / "mf-toy"
    mf("plugin", "new", "mf-toy", "--directory", str(plugin))
    source = plugin / "src"
    shutil.copy(EXTRAS, source / "mf_toy" / "extras.py")
    info = source / "mf_toy-0.1.0.dist-info"  # what pip would write: the entry points are the contract
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mf-toy\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[mf.plugins]\ntoy = mf_toy.plugin\ntoy_extras = mf_toy.extras\n")
    env = {"PYTHONPATH": str(source)}

    listing = mf("plugins", env=env)
    assert "mf-toy 0.1.0  (mf_toy.plugin)" in listing and "presets: toy_small, toy_tiny" in listing
    assert "tasks: text_scoring" in listing and "PET methods: last_blocks" in listing
    assert "dataset formats: csv_text" in listing and "broken" not in listing

    data = tmp_path / "novel.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows(enumerate(paragraphs(30)))
    out = tmp_path / "out"
    log = mf("run", "--model_type", "toy_tiny", "--train_dataset", str(data), "--pet_method", "last_blocks",
             "--max_steps", "3", "--per_device_train_batch_size", "2", "--output_dir", str(out), env=env)
    trainable, total = (int(n.replace(",", "")) for n in
                        log.split("training ToyForCausalLM: ")[1].split(" parameters")[0].split(" trainable of "))
    assert 0 < trainable < total  # only the last block trains
    assert (out / "model.safetensors").is_file() and (out / "metrics.jsonl").is_file()

    text = "I was born with a reckless streak."
    (tmp_path / "short.txt").write_text(text)
    counted = mf("count-tokens", str(tmp_path / "short.txt"), "--model", "toy_tiny", env=env)
    assert counted.strip() == f"{len(text.encode())} tokens"  # the byte tokenizer: one token per byte

    scored = run([sys.executable, "-c", (
        "import json; from mf import pipeline;"
        f"print(json.dumps(pipeline('text_scoring', model={str(out)!r})(['the cat sat', 'zzzz qqqq'])))")], env=env)
    scores = json.loads(scored.strip().splitlines()[-1])
    assert [s["text"] for s in scores] == ["the cat sat", "zzzz qqqq"]
    assert all(1.0 < s["perplexity"] < 1e4 for s in scores)

    generated = mf("generate", "--model", str(out), "--prompt", "Hello", "--max-new-tokens", "5", env=env)
    assert generated.startswith("Hello") and len(generated.strip()) > len("Hello")


@pytest.mark.slow
def test_a_scaffolded_plugin_builds_installs_beside_core_alone_and_works(tmp_path):
    plugin = tmp_path / "mf-mymodel"
    mf("plugin", "new", "mf-mymodel", "--directory", str(plugin))
    # build the wheel as its author would publish it (with this environment's setuptools and wheel when
    # it has them, else pip fetches them into an isolated build environment)
    import importlib.util

    local_build = all(importlib.util.find_spec(name) for name in ("setuptools", "wheel"))
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *(["--no-build-isolation"] if local_build else []),
         "-w", str(tmp_path / "dist"), str(plugin)])
    wheel = next((tmp_path / "dist").glob("mf_mymodel-0.1.0-*.whl"))
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    python, mf_command = environment / "bin" / "python", environment / "bin" / "mf"
    run([str(python), "-m", "pip", "install", "-q", str(ROOT / "core"), str(wheel), "pytest"], timeout=1800)

    listing = run([str(mf_command), "plugins"])
    listed = {line.split()[0] for line in listing.splitlines() if line and not line.startswith((" ", "mf-core provides"))}
    assert listed == {"mf-core", "mf-mymodel"}, listing
    assert "presets: mymodel_small, mymodel_tiny" in listing

    resolved = run([str(python), "-c", (
        "from mf import AutoConfig, AutoModel, AutoTokenizer\n"
        "config = AutoConfig.from_pretrained('mymodel_tiny')\n"
        "model = AutoModel.from_config(config)\n"
        "tokenizer = AutoTokenizer.from_pretrained('mymodel_tiny')\n"
        "print(type(config).__name__, type(model).__name__, type(tokenizer).__name__, model.num_parameters())")])
    assert resolved.split()[:3] == ["MymodelConfig", "MymodelForCausalLM", "MymodelTokenizer"]

    text = tmp_path / "novel.txt"
    text.write_text("\n\n".join(paragraphs(30)), encoding="utf-8")
    out = tmp_path / "out"
    log = run([str(mf_command), "run", "--model_type", "mymodel_tiny", "--train_dataset", str(text),
               "--max_steps", "3", "--per_device_train_batch_size", "2", "--output_dir", str(out)])
    assert "3 steps" in log and (out / "model.safetensors").is_file()
    generated = run([str(mf_command), "generate", "--model", str(out), "--prompt", "The", "--max-new-tokens", "6"])
    assert generated.startswith("The") and len(generated.strip()) > 3

    tests = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=plugin)
    assert " passed" in tests and "failed" not in tests
