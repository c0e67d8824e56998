"""Weights by name from a Hub-like endpoint on 127.0.0.1 (HF_ENDPOINT): Hub ids, presets that name a
Hub repository, the cache in offline mode, a download cut half-way, and pickle-only repositories.

Each scenario runs in its own process, as a user's would: huggingface_hub reads HF_ENDPOINT and
HF_HUB_OFFLINE when it is imported."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the test helper beside this file (pytest's importlib mode)
from hub_server import HubServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY_GPT2 = ROOT / "plugins" / "mf-gpt" / "tests" / "fixtures" / "tiny-gpt2"
TINY_LLAMA = ROOT / "plugins" / "mf-llama" / "tests" / "fixtures" / "tiny-llama-gqa"

# loads a model by name, compares its logits with the fixture loaded from its directory
LOAD = r'''
import json, sys
import numpy as np
from mindspore import Tensor
from mf import AutoModel

name, directory = sys.argv[1], sys.argv[2]
ids = Tensor(np.array([[40, 11, 262, 13, 5, 7]], np.int32))
model = AutoModel.from_pretrained(name)
model.set_train(False)
reference = AutoModel.from_pretrained(directory)
reference.set_train(False)
print(json.dumps({"class": type(model).__name__,
                  "max_diff": float(np.abs(model(ids).asnumpy() - reference(ids).asnumpy()).max())}))
'''

ERROR = r'''
import sys
from mf import AutoModel
from mf.errors import MFError
try:
    AutoModel.from_pretrained(sys.argv[1])
except MFError as exc:
    print(type(exc).__name__, exc)
    sys.exit(3)
'''


def python(code, *args, env):
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=600)
    return result


def loaded(code, *args, env):
    result = python(code, *args, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def repos(tmp_path):
    """Hub repositories: tiny GPT-2 (with its tokenizer files) and tiny LLaMA (4 shards), each also
    under the repository its preset names, and one with only pickle weights."""
    from mf import AutoTokenizer

    gpt2 = tmp_path / "repos" / "tiny-gpt2"
    shutil.copytree(TINY_GPT2, gpt2)
    AutoTokenizer.from_pretrained("gpt2").save_pretrained(gpt2)
    llama = tmp_path / "repos" / "tiny-llama"
    shutil.copytree(TINY_LLAMA, llama)
    # a checkpoint larger than huggingface_hub's 10 MB download chunk, so that a cut download has
    # written some of it when the connection drops, and resumes from there
    from mf import AutoConfig, AutoModel

    large = tmp_path / "repos" / "large-gpt2"
    AutoModel.from_config(AutoConfig.from_pretrained(
        "gpt2_tiny", hidden_size=128, num_layers=1, num_heads=4, seq_length=64)).save_pretrained(
        large, format="huggingface")
    pickled = tmp_path / "repos" / "pickled"
    pickled.mkdir()
    shutil.copy(TINY_GPT2 / "config.json", pickled)
    (pickled / "pytorch_model.bin").write_bytes(b"PK\x03\x04 a pickle mf must never load")
    AutoTokenizer.from_pretrained("gpt2").save_pretrained(large)
    return {"acme/gated-gpt2": gpt2, "acme/large-gpt2": large, "acme/tiny-gpt2": gpt2, "openai-community/gpt2": large, "acme/tiny-llama": llama,
            "huggyllama/llama-7b": llama, "acme/pickled": pickled}


def test_hub_ids_presets_offline_cache_resume_and_pickle_refusal(repos, tmp_path):
    hf_home = tmp_path / "hf_home"
    with HubServer(repos, gated={"acme/gated-gpt2": "hf_secret"}) as hub:
        env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(hf_home), "HF_HUB_DISABLE_PROGRESS_BARS": "1",
               "HF_HUB_OFFLINE": "0"}

        # by Hub id
        assert loaded(LOAD, "acme/tiny-gpt2", TINY_GPT2, env=env) == {"class": "GPT2LMHeadModel", "max_diff": 0.0}
        assert loaded(LOAD, "acme/tiny-llama", TINY_LLAMA, env=env) == {"class": "LlamaForCausalLM", "max_diff": 0.0}

        # a download cut after 15 MB resumes where it stopped (a Range request), and loads intact
        hub.cut_once.add("model.safetensors")
        large = repos["acme/large-gpt2"]
        assert loaded(LOAD, "acme/large-gpt2", large, env=env)["max_diff"] == 0.0
        ranges = [r for method, path, r in hub.requests
                  if path.startswith("/acme/large-gpt2/resolve/") and path.endswith("/model.safetensors")
                  and method == "GET"]
        assert len(ranges) == 2 and ranges[0] is None and ranges[1] == "bytes=10485760-", ranges

        # by preset: gpt2 names openai-community/gpt2, llama_7b names huggyllama/llama-7b (sharded here)
        assert loaded(LOAD, "gpt2", large, env=env) == {"class": "GPT2LMHeadModel", "max_diff": 0.0}
        assert loaded(LOAD, "llama_7b", TINY_LLAMA, env=env) == {"class": "LlamaForCausalLM", "max_diff": 0.0}

        # the tutorial's first example, with weights from the endpoint
        generated = python("from mf import pipeline\n"
                           "g = pipeline(task='text_generation', model='gpt2', max_length=12)\n"
                           "import json; print(json.dumps(g('I love Beijing, because', top_k=3)))", env=env)
        assert generated.returncode == 0, generated.stderr[-3000:]
        text = json.loads(generated.stdout.strip().splitlines()[-1])[0]["text_generation_text"][0]
        assert text.startswith("I love Beijing, because") and len(text) > len("I love Beijing, because")

        # Hub id config and tokenizer, without fetching weights
        tokenizer = python("from mf import AutoConfig, AutoTokenizer\n"
                           "print(AutoConfig.from_pretrained('acme/tiny-gpt2').hidden_size,\n"
                           "      AutoTokenizer.from_pretrained('acme/tiny-gpt2')('hello!')['input_ids'])", env=env)
        assert tokenizer.stdout.strip().splitlines()[-1] == "64 [50256, 31373, 0, 50256]", tokenizer.stderr[-2000:]

        refused = python(ERROR, "acme/pickled", env=env)
        assert refused.returncode == 3 and "only pickle weights (pytorch_model.bin)" in refused.stdout
        assert "never unpickles" in refused.stdout
        assert not any(path.endswith("pytorch_model.bin") for _, path, _ in hub.requests)  # never downloaded

        gated = python(ERROR, "acme/gated-gpt2", env=env)  # a gated repository needs the user's token
        assert gated.returncode == 3 and "acme/gated-gpt2 is gated" in gated.stdout and "HF_TOKEN" in gated.stdout
        assert loaded(LOAD, "acme/gated-gpt2", TINY_GPT2, env={**env, "HF_TOKEN": "hf_secret"})["max_diff"] == 0.0

        missing = python(ERROR, "acme/missing", env=env)
        assert missing.returncode == 3 and "no Hub repository acme/missing" in missing.stdout

    # the endpoint is gone: offline mode loads from the cache, and says what is missing from it
    offline = {**env, "HF_HUB_OFFLINE": "1"}
    assert loaded(LOAD, "acme/tiny-gpt2", TINY_GPT2, env=offline)["max_diff"] == 0.0
    assert loaded(LOAD, "gpt2", repos["openai-community/gpt2"], env=offline)["max_diff"] == 0.0
    assert loaded(LOAD, "llama_7b", TINY_LLAMA, env=offline)["max_diff"] == 0.0
    never = python(ERROR, "acme/never-fetched", env=offline)
    assert never.returncode == 3 and "HF_HUB_OFFLINE is set" in never.stdout


def test_a_preset_without_public_weights_says_so():
    from mf import AutoModel
    from mf.errors import WeightsNotFoundError

    with pytest.raises(WeightsNotFoundError, match="preset 'gpt2_13b' names no public weights: MindFormers'"):
        AutoModel.from_pretrained("gpt2_13b")


def test_a_relative_path_that_does_not_exist_is_not_sent_to_the_hub(tmp_path, monkeypatch):
    from mf import AutoModel

    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        AutoModel.from_pretrained("./models/gpt2")
