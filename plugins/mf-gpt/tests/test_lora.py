"""LoRA (and BitFit) through the PET hook: exactness, training, adapters, PEFT compatibility, errors."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor

from mf import (AutoModel, AutoTokenizer, GPT2Config, GPT2LMHeadModel, LoraConfig, Trainer, TrainingArguments,
                apply_pet, load_adapter, merge_and_unload, save_adapter)
from mf.errors import WeightsError
from mf.pet import PETError

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = np.load(FIXTURES / "tiny_gpt2_golden.npz")
IDS = Tensor(GOLDEN["input_ids"].astype(np.int32))
BOTCHAN = Path(__file__).resolve().parents[3] / "core" / "src" / "mf" / "data" / "texts" / "botchan.txt"


def fixture_model():
    model = AutoModel.from_pretrained(str(FIXTURES / "tiny-gpt2"))
    model.set_train(False)
    return model


def logits(model):
    model.set_train(False)
    return model(IDS).asnumpy()


def perturb_adapter(model, seed=0):
    rng = np.random.default_rng(seed)
    for name, param in model.parameters_and_names():
        if "lora_B" in name:
            param.set_data(Tensor((0.1 * rng.standard_normal(param.shape)).astype(np.float32)))


def test_a_fresh_adapter_gives_exactly_the_base_logits():
    model = fixture_model()
    base = logits(model)
    apply_pet(model, "lora", r=4, lora_alpha=8, lora_dropout=0.1)
    np.testing.assert_array_equal(logits(model), base)
    trainable = [n for n, p in model.parameters_and_names() if p.requires_grad]
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    assert sorted({n.split(".lora_")[0].split(".h.")[1][2:] for n in trainable}) == ["attn.c_attn", "attn.c_proj"]


def test_adapter_round_trip_onto_a_fresh_base(tmp_path):
    model = fixture_model()
    apply_pet(model, "lora", r=4, lora_alpha=8)
    perturb_adapter(model)
    expected = logits(model)
    save_adapter(model, tmp_path)
    saved = json.loads((tmp_path / "adapter_config.json").read_text())
    assert saved["peft_type"] == "LORA" and saved["r"] == 4 and saved["target_modules"] == ["c_attn", "attn.c_proj"]
    fresh = load_adapter(fixture_model(), tmp_path)
    np.testing.assert_array_equal(logits(fresh), expected)


def test_an_adapter_made_by_peft_loads_with_peft_names_and_logits():
    model = load_adapter(fixture_model(), FIXTURES / "peft-lora")
    np.testing.assert_allclose(logits(model), np.load(FIXTURES / "peft_lora_logits.npy"), atol=1e-4, rtol=0)


def test_merge_and_unload_matches_the_adapter_and_saves_a_plain_model(tmp_path):
    model = load_adapter(fixture_model(), FIXTURES / "peft-lora")
    unmerged = logits(model)
    merge_and_unload(model)
    np.testing.assert_allclose(logits(model), unmerged, atol=1e-5, rtol=0)
    model.save_pretrained(tmp_path)
    plain = AutoModel.from_pretrained(str(tmp_path))
    assert not any("lora" in n for n, _ in plain.parameters_and_names())
    np.testing.assert_allclose(logits(plain), unmerged, atol=1e-5, rtol=0)


def test_bad_lora_settings():
    with pytest.raises(PETError, match=r"target_modules \['q_proj'\] match no Linear layer of GPT2LMHeadModel. "
                                       r"Its Linear layers are: transformer.h.0.attn.c_attn, "):
        apply_pet(fixture_model(), "lora", target_modules=["q_proj"])
    for rank in (0, -2):
        with pytest.raises(PETError, match="rank r must be a positive integer"):
            apply_pet(fixture_model(), "lora", rank=rank)
    with pytest.raises(KeyError, match="unknown PET method 'prefix'; installed: bitfit, lora"):
        apply_pet(fixture_model(), "prefix")


def test_a_string_target_modules_is_a_full_match_pattern_and_a_hostile_one_is_an_error():
    model = apply_pet(fixture_model(), "lora", target_modules=r"transformer\.h\.1\.attn\.c_(attn|proj)")
    wrapped = sorted(n for n, c in model.cells_and_names() if type(c).__name__ == "LoraLinear")
    assert wrapped == ["transformer.h.1.attn.c_attn", "transformer.h.1.attn.c_proj"]
    with pytest.raises(PETError, match=r"is not a valid regular expression"):
        apply_pet(fixture_model(), "lora", target_modules="(c_attn")
    # exponential backtracking on every layer name: stopped by the timeout, not a hang (issue 19, item 12)
    with pytest.raises(PETError, match=r"took over .* s to match the layer name .*catastrophically backtracking"):
        apply_pet(fixture_model(), "lora", target_modules=r"(?:[\w.]|[a-z])+" * 6 + r"\d")


def test_an_adapter_for_another_base_model_names_the_tensor(tmp_path):
    ms.set_seed(0)
    wider = GPT2LMHeadModel(GPT2Config(vocab_size=1000, hidden_size=96, num_layers=2, num_heads=4, seq_length=128))
    apply_pet(wider, "lora", r=4)
    save_adapter(wider, tmp_path)
    with pytest.raises(WeightsError, match=r"tensor base_model.model.transformer.h.0.attn.c_attn.lora_A.weight has "
                                           r"shape \[4, 96\] but .* needs \[4, 64\]"):
        load_adapter(fixture_model(), tmp_path)


def test_lora_finetuning_on_real_text(tmp_path, capsys):
    """Base weights untouched, loss falls, merged == unmerged."""
    tokenizer = AutoTokenizer.from_pretrained("gpt2")
    novel = BOTCHAN.read_text(encoding="utf-8-sig")
    (tmp_path / "pretrain.txt").write_text(novel[:40000])
    # the fine-tuning text: one paragraph of the novel, which the adapter can learn in a few steps
    (tmp_path / "text.txt").write_text(novel[60000:60400] * 40)
    ms.set_seed(0)
    base = AutoModel.from_config(GPT2Config(hidden_size=64, num_layers=2, num_heads=4, seq_length=64,
                                            hidden_dropout=0.0, embedding_dropout=0.0, attention_dropout=0.0))
    # LoRA adapts a pretrained model: pretrain the base briefly first
    Trainer(model=base, args=TrainingArguments(output_dir=str(tmp_path / "pre"), batch_size=8, learning_rate=1e-2,
                                               max_steps=30, save_steps=0, seq_length=64),
            train_dataset=str(tmp_path / "pretrain.txt"), tokenizer=tokenizer).train()
    base.save_pretrained(tmp_path / "base")
    model = AutoModel.from_pretrained(str(tmp_path / "base"))
    before = {n: p.asnumpy().copy() for n, p in model.parameters_and_names()}
    args = TrainingArguments(output_dir=str(tmp_path / "out"), batch_size=8, learning_rate=3e-2, max_steps=40,
                             logging_steps=5, save_steps=0, seq_length=64)
    trainer = Trainer(model=model, args=args, train_dataset=str(tmp_path / "text.txt"), tokenizer=tokenizer,
                      pet_method="lora", r=8, lora_alpha=16)
    trainer.finetune()
    printed = capsys.readouterr().out
    trainable = model.num_parameters(only_trainable=True)
    assert f"{trainable:,} trainable of {model.num_parameters():,} parameters" in printed
    after = dict(model.parameters_and_names())
    for name, value in before.items():
        np.testing.assert_array_equal(after[name].asnumpy(), value)  # bit-identical base weights
    losses = [json.loads(line)["loss"] for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0] - 0.3
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()
    unmerged = logits_of(model, tokenizer)
    merge_and_unload(model)
    np.testing.assert_allclose(logits_of(model, tokenizer), unmerged, atol=1e-5, rtol=0)
    reloaded = load_adapter(AutoModel.from_pretrained(str(tmp_path / "base")), tmp_path / "out")
    np.testing.assert_allclose(logits_of(reloaded, tokenizer), unmerged, atol=1e-5, rtol=0)


def logits_of(model, tokenizer):
    model.set_train(False)
    ids = tokenizer("The quick brown fox", add_special_tokens=False, return_tensors="ms")["input_ids"]
    return model(ids).asnumpy()


def test_bitfit_registers_through_the_same_hook_and_trains_only_biases(tmp_path):
    from mf.plugins import get_registry

    assert get_registry().pet_methods.by_source(get_registry().pet_methods.entries["lora"].source) == ["bitfit", "lora"]
    model = fixture_model()
    before = {n: p.asnumpy().copy() for n, p in model.parameters_and_names()}
    blocks = np.random.default_rng(0).integers(0, 999, (32, 17))
    from mf import TokenBlocks

    Trainer(model=model, args=TrainingArguments(output_dir=str(tmp_path), batch_size=4, max_steps=3,
                                                learning_rate=1e-2, save_steps=0),
            train_dataset=TokenBlocks(blocks), pet_method="bitfit").train()
    for name, param in model.parameters_and_names():
        changed = not np.array_equal(param.asnumpy(), before[name])
        assert changed == name.endswith(".bias"), name


def test_lora_preset_and_mf_run(tmp_path):
    from mf import AutoConfig

    ms.set_seed(0)
    AutoModel.from_config(AutoConfig.from_pretrained("gpt2_tiny")).save_pretrained(tmp_path / "home" / "gpt2_tiny")
    (tmp_path / "data.txt").write_text(BOTCHAN.read_text(encoding="utf-8-sig")[:6000])
    trainer = Trainer(model="gpt2_lora", args=TrainingArguments(output_dir=str(tmp_path / "x")))
    assert trainer.pet_method == "lora" and trainer.pet_options["r"] == 8
    env = {"MF_HOME": str(tmp_path / "home")}
    import os

    result = subprocess.run([sys.executable, "-m", "mf.cli", "run", "--task", "text_generation", "--model_type",
                             "gpt2_tiny", "--run_mode", "finetune", "--train_dataset", str(tmp_path / "data.txt"),
                             "--pet_method", "lora", "--max_steps", "2", "--batch_size", "2", "--seq_length", "32",
                             "--output_dir", str(tmp_path / "run")], capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "trainable of" in result.stdout
    assert (tmp_path / "run" / "adapter_config.json").is_file()
