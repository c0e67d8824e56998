"""Chat: pipeline() with chat messages, `mf generate --chat`, `mf chat` in a pseudo-terminal, and the
message when a model ends its text at once."""
import json
import os
import pty
import re
import select
import subprocess
import sys
import time

import numpy as np
import pytest

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.fixture
def chat_model(tmp_path):
    """A tiny LLaMA (random weights) whose tokenizer carries a ChatML chat template."""
    import mindspore as ms
    from mf import AutoConfig, AutoModel, AutoTokenizer

    ms.set_seed(0)
    directory = tmp_path / "tiny-chat"
    AutoModel.from_config(AutoConfig.from_pretrained("llama_tiny")).save_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained("llama_tiny")
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(directory)
    return directory


def reply(directory, messages, new_tokens):
    from mf import pipeline

    result = pipeline("text_generation", model=str(directory))(messages, max_new_tokens=new_tokens)
    assert len(result) == 1 and result[0]["messages"][:-1] == messages
    assert result[0]["messages"][-1]["role"] == "assistant"
    return result[0]["messages"][-1]["content"]


def test_pipeline_takes_chat_messages(chat_model):
    from mf import AutoTokenizer, pipeline

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello?"}]
    generator = pipeline("text_generation", model=str(chat_model))
    [result] = generator(messages, max_new_tokens=6)
    answer = result["text_generation_text"][0]
    # the reply is what the model generates after the rendered template, without the prompt
    tokenizer = AutoTokenizer.from_pretrained(str(chat_model))
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    [plain] = generator(prompt, max_new_tokens=6)
    assert plain["text_generation_text"][0] == prompt + answer or plain["text_generation_text"][0].endswith(answer)
    assert result["messages"] == messages + [{"role": "assistant", "content": answer.strip()}]
    # a batch of conversations
    both = generator([messages, [{"role": "user", "content": "Hi"}]], max_new_tokens=4)
    assert len(both) == 2 and all("messages" in r for r in both)


def test_chat_messages_need_a_chat_template():
    from mf import pipeline
    from mf.generation import GenerationError

    generator = pipeline("text_generation", model=_gpt2_dir(), tokenizer="gpt2")
    with pytest.raises(GenerationError, match="need a chat template"):
        generator([{"role": "user", "content": "Hello"}], max_new_tokens=2)


def _gpt2_dir():
    from pathlib import Path

    return str(Path(__file__).resolve().parents[1] / "plugins" / "mf-gpt" / "tests" / "fixtures" / "tiny-gpt2")


def test_mf_generate_says_when_no_new_token_is_produced(tmp_path):
    """A model whose first generated token is end-of-sequence: mf says so instead of returning the prompt
    silently (this is what a chat model does with a plain prompt)."""
    import shutil

    from mindspore import Tensor
    from mf import AutoModel

    directory = tmp_path / "ends-at-once"
    shutil.copytree(_gpt2_dir(), directory)
    model = AutoModel.from_pretrained(str(directory))
    model.set_train(False)
    prompt_ids = [40, 11, 262]  # "I, the"
    first = int(model(Tensor(np.array([prompt_ids], np.int32))).asnumpy()[0, -1].argmax())
    (directory / "generation_config.json").write_text(json.dumps({"eos_token_id": first, "pad_token_id": first}))
    from mf import AutoTokenizer

    AutoTokenizer.from_pretrained("gpt2").save_pretrained(directory)
    result = subprocess.run([sys.executable, "-m", "mf.cli", "generate", "--model", str(directory), "--prompt",
                             "I, the", "--max-new-tokens", "5"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "I, the"
    assert "mf generate: note: the model produced no new token" in result.stderr and "--chat" in result.stderr


def test_mf_generate_chat(chat_model):
    expected = reply(chat_model, [{"role": "system", "content": "Be brief."},
                                  {"role": "user", "content": "Hello?"}], 6)
    result = subprocess.run([sys.executable, "-m", "mf.cli", "generate", "--model", str(chat_model), "--chat",
                             "--system", "Be brief.", "--prompt", "Hello?", "--max-new-tokens", "6"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == expected.strip()


class Terminal:
    """A command on a pseudo-terminal: type lines, read what it prints."""

    def __init__(self, command):
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=subprocess.DEVNULL,
                                        close_fds=True)
        os.close(slave)
        self.seen = ""

    def read_until(self, text, timeout=300):
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            if time.monotonic() > deadline:
                raise AssertionError(f"waited for {text!r}; the terminal shows:\n{self.seen[-2000:]}")
            ready, _, _ = select.select([self.master], [], [], 1)
            if ready:
                self.seen += os.read(self.master, 4096).decode("utf-8", "replace").replace("\r\n", "\n")
        before, _, self.seen = self.seen.partition(text)
        return before

    def type(self, line):
        os.write(self.master, (line + "\n").encode())

    def close(self):
        self.process.wait(timeout=60)
        os.close(self.master)
        return self.process.returncode


def test_mf_chat_in_a_terminal(chat_model):
    first = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is mf?"}]
    first_reply = reply(chat_model, first, 8)
    second = first + [{"role": "assistant", "content": first_reply}, {"role": "user", "content": "And then?"}]
    second_reply = reply(chat_model, second, 8)

    terminal = Terminal([sys.executable, "-m", "mf.cli", "chat", str(chat_model), "--system", "Be brief.",
                         "--max-new-tokens", "8"])
    terminal.read_until(">>> ")
    terminal.type("What is mf?")
    shown = terminal.read_until(">>> ")
    answer, _, stats = shown.partition("\n[")
    assert answer.split("What is mf?\n", 1)[-1].strip() == first_reply.strip()  # streamed after the echo
    assert re.match(r"8 tokens, \d+\.\d tokens/s, first token after \d+\.\d s\]", stats), stats
    terminal.type("And then?")  # the history is kept: the second reply continues the conversation
    shown = terminal.read_until(">>> ")
    assert shown.split("And then?\n", 1)[-1].partition("\n[")[0].strip() == second_reply.strip()
    terminal.type("/exit")
    assert terminal.close() == 0
