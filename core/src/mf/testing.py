"""mf.testing: the conformance suite every model family runs in its own tests.

    # plugins/mf-mymodel/tests/test_conformance.py
    from mf.testing import FamilyConformance

    class TestMyModel(FamilyConformance):
        distribution = "mf-mymodel"
        presets = ["mymodel_tiny"]          # tiny presets: every check builds them with random weights

Each check is a pytest test, parametrised over `presets`; it proves a part of the plugin contract
(docs/plugins.md): the config's JSON round trip, save -> load giving identical outputs, the Hugging
Face converter's round trip, the tokenizer's round trip and special tokens, every registered class
meeting its role's Protocol, identical cached and uncached greedy decoding (causal LMs and
encoder-decoders), a training step that lowers the loss, each encoder and encoder-decoder role training
on core's task of that role from its data format, LoRA
merged == unmerged, a sharding plan that names real layers and divides, and the
plugin showing in `mf plugins`. A check that does not apply to a family (no tokenizer, no converter,
a role without a generic check yet) is skipped with the reason. Needs pytest.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

TEXT = "Hello world, this is mf: 42 models and counting."
QA_CONTEXT = "The cat sat on the mat while the dog slept in the garden."


def _task_data(role, directory):
    """(task, data file) for core's task that trains `role`, in that task's own format."""
    sentences = [TEXT, "Another line of text, with other words.", QA_CONTEXT, "Short one."] * 2
    if role == "sequence_classification":
        path = directory / "classes.jsonl"
        path.write_text("".join(json.dumps({"text": t, "label": i % 2}) + "\n" for i, t in enumerate(sentences)))
        return "text_classification", path
    if role == "token_classification":
        path = directory / "tags.conll"
        path.write_text("\n\n".join("\n".join(f"{w} {'B-X' if i % 3 == 0 else 'O'}" for i, w in enumerate(t.split()))
                                    for t in sentences) + "\n")
        return "token_classification", path
    if role == "question_answering":
        path = directory / "squad.json"
        qas = [{"id": str(i), "question": q, "answers": [{"text": a, "answer_start": QA_CONTEXT.index(a)}]}
               for i, (q, a) in enumerate([("Where did the cat sit?", "on the mat"),
                                           ("Where did the dog sleep?", "in the garden")] * 4)]
        path.write_text(json.dumps({"data": [{"paragraphs": [{"context": QA_CONTEXT, "qas": qas}]}]}))
        return "question_answering", path
    if role == "seq2seq_lm":
        path = directory / "pairs.jsonl"
        path.write_text("".join(json.dumps({"source": t, "target": t.upper()}) + "\n" for t in sentences))
        return "translation", path
    if role == "image_classification":
        from PIL import Image

        rng = np.random.default_rng(0)
        for label, colour in (("red", (220, 40, 40)), ("blue", (40, 40, 220))):
            (directory / "images" / label).mkdir(parents=True, exist_ok=True)
            for i in range(4):
                pixels = np.clip(np.array(colour) + rng.integers(-40, 40, (24, 20, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(directory / "images" / label / f"{i}.png")
        return "image_classification", directory / "images"
    if role == "masked_image_modeling":
        return "masked_image_modeling", _task_data("image_classification", directory)[1]
    if role == "image_text":
        from PIL import Image

        rng = np.random.default_rng(0)
        colours = {"red": (220, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 220), "yellow": (230, 220, 40),
                   "black": (10, 10, 10), "white": (245, 245, 245), "purple": (140, 40, 180), "orange": (250, 140, 20)}
        lines = []
        for name, colour in colours.items():
            pixels = np.clip(np.array(colour) + rng.integers(-20, 20, (24, 20, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(directory / f"{name}.png")
            lines.append(json.dumps({"image": f"{name}.png", "caption": f"a {name} square"}) + "\n")
        path = directory / "captions.jsonl"
        path.write_text("".join(lines))
        return "contrastive_language_image_pretrain", path
    if role == "masked_lm":
        path = directory / "corpus.txt"
        path.write_text("\n\n".join(sentences * 4))
        return "fill_mask", path
    return None, None


def isolate_caches(tmp_path_factory, monkeypatch):
    """A private MF_HOME and Hugging Face cache for the test, and a kernel cache in the temporary
    directory (one per test session, so the kernels are built once), never the user's."""
    monkeypatch.setenv("MF_HOME", str(tmp_path_factory.mktemp("mf_home")))
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf_home")))
    kernels = os.environ.get("MF_KERNEL_CACHE", "")
    if not kernels.startswith(tempfile.gettempdir()):
        monkeypatch.setenv("MF_KERNEL_CACHE", str(tmp_path_factory.getbasetemp() / "mf_kernels"))


def _registry():
    from .plugins import get_registry

    return get_registry()


def _family(preset_name):
    registry = _registry()
    return registry.family(registry.preset(preset_name).model_type)


def _config(preset_name, **overrides):
    from .auto import AutoConfig

    config = AutoConfig.from_pretrained(preset_name, **overrides)
    # dropout and stochastic depth off: outputs must be deterministic to compare
    for name, value in list(config.to_dict().items()):
        if ("dropout" in name or "drop_path" in name) and isinstance(value, float):
            setattr(config, name, 0.0)
    return config


def _build(preset_name, role=None, seed=0):
    import mindspore as ms

    ms.set_seed(seed)
    config = _config(preset_name)
    model = _family(preset_name).model_class(role)(config)
    model.set_train(False)
    return model


def _token_ids(config, batch=2, length=8, seed=0):
    """Random token ids; for an image model (a config with image_size and no vocabulary), random pixel values
    [batch, channels, image_size, image_size]; for an image-text model (both), the pair (ids, pixels)."""
    rng = np.random.default_rng(seed)
    image_size = getattr(config, "image_size", None)
    pixels = None
    if image_size:
        size = int(image_size)
        pixels = rng.standard_normal((batch, int(getattr(config, "num_channels", 3)), size, size)).astype(np.float32)
    if getattr(config, "vocab_size", None) is None:
        return pixels
    ids = rng.integers(0, int(config.vocab_size), (batch, length)).astype(np.int32)
    return ids if pixels is None else (ids, pixels)


def _outputs(model, ids):
    """The model's outputs on token ids (an encoder-decoder reads them as its source and its decoder input); a
    tuple of inputs is passed as the first positional arguments; a masked image model gets fixed noise."""
    import inspect

    from mindspore import Tensor

    parameters = inspect.signature(model.construct).parameters
    if isinstance(ids, tuple):
        out = model(*(Tensor(part) for part in ids))
    elif "decoder_input_ids" in parameters:
        out = model(Tensor(ids), None, Tensor(ids))
    elif "noise" in parameters:  # the mask is random unless the noise is given
        patches = (ids.shape[2] // model.config.patch_size) * (ids.shape[3] // model.config.patch_size)
        noise = np.random.default_rng(1).random((ids.shape[0], patches)).astype(np.float32)
        out = model(Tensor(ids), Tensor(noise))
    else:
        out = model(Tensor(ids))
    out = out if isinstance(out, (tuple, list)) else (out,)
    return [o.asnumpy() for o in out]


class FamilyConformance:
    """Subclass in a family's tests with `distribution` and `presets` (tiny ones)."""

    distribution: str = ""
    presets: list = []
    # tolerance for outputs that go through a different code path (cache, merged LoRA)
    atol = 1e-5

    def pytest_generate_tests(self, metafunc):
        if "preset" in metafunc.fixturenames:
            if not self.presets:
                raise ValueError(f"{type(self).__name__}.presets is empty: name the family's tiny presets")
            metafunc.parametrize("preset", self.presets)

    @pytest.fixture(autouse=True)
    def _isolated_caches(self, tmp_path_factory, monkeypatch):
        isolate_caches(tmp_path_factory, monkeypatch)

    def example_ids(self, config):
        """Token ids the token-input checks feed the model (override for special vocabularies)."""
        return _token_ids(config)

    def _causal_lm_or_skip(self, preset):
        family = _family(preset)
        if "causal_lm" not in family.model_classes:
            pytest.skip(f"{family.model_type} has no causal_lm role; this check covers causal LMs in PLUGIN_API 1")
        return family

    def _generating_role_or_skip(self, preset):
        family = _family(preset)
        for role in ("causal_lm", "seq2seq_lm"):
            if role in family.model_classes:
                return role
        pytest.skip(f"{family.model_type} has no causal_lm or seq2seq_lm role: nothing generates")

    # ---- registration ----------------------------------------------------------------
    def test_preset_is_registered_by_this_distribution(self, preset):
        registry = _registry()
        registry.preset(preset)  # raises with the reason when missing
        owner = registry.presets.entries[preset].source.distribution
        assert owner == self.distribution, f"preset '{preset}' is registered by {owner}, not {self.distribution}"

    def test_plugin_shows_in_mf_plugins(self, preset):
        result = subprocess.run([sys.executable, "-m", "mf.cli", "plugins", "--json"], capture_output=True,
                                text=True, timeout=300)
        listing = json.loads(result.stdout)
        ours = [entry for entry in listing if entry["distribution"] == self.distribution]
        assert ours, f"{self.distribution} is not among the installed plugins: " \
                     f"{[e['distribution'] for e in listing]}"
        for entry in ours:
            assert entry["error"] is None, entry["error"]
            assert entry["command_error"] is None, entry["command_error"]
        assert any(preset in entry["registered"].get("preset", []) for entry in ours)

    def test_every_role_class_meets_its_protocol(self, preset):
        from .models.roles import role_protocol

        family = _family(preset)
        config = _config(preset)
        for role, cls in family.model_classes.items():
            model = cls(config)
            assert isinstance(model, role_protocol(role)), \
                f"{cls.__name__} is registered as '{role}' but lacks what {role_protocol(role).__name__} needs"

    # ---- configuration and weights -----------------------------------------------------
    def test_config_json_round_trip(self, preset, tmp_path):
        from .auto import AutoConfig

        config = _config(preset)
        config.save_pretrained(tmp_path / "mf")
        assert AutoConfig.from_pretrained(str(tmp_path / "mf")).to_dict() == config.to_dict()
        hf = config.to_hf_dict()
        assert type(config).from_dict(hf).to_dict() == config.to_dict()
        json.dumps(hf)  # a Hugging Face config.json must be plain JSON

    def test_save_and_load_give_identical_outputs(self, preset, tmp_path):
        from .auto import AutoModel

        model = _build(preset)
        ids = self.example_ids(model.config)
        expected = _outputs(model, ids)
        model.save_pretrained(tmp_path / "saved")
        loaded = AutoModel.from_pretrained(str(tmp_path / "saved"))
        loaded.set_train(False)
        for got, want in zip(_outputs(loaded, ids), expected):
            np.testing.assert_array_equal(got, want)

    def test_huggingface_converter_round_trip(self, preset, tmp_path):
        from .auto import AutoModel

        family = _family(preset)
        if family.converter is None:
            pytest.skip(f"{family.model_type} registers no Hugging Face converter")
        model = _build(preset)
        state = model.state_dict()
        back = family.converter.hf_to_mf(family.converter.mf_to_hf(dict(state), model.config), model.config)
        back = model._match_prefix(back)
        assert sorted(back) == sorted(state)
        for name, value in state.items():
            np.testing.assert_array_equal(np.asarray(back[name]), value, err_msg=name)
        ids = self.example_ids(model.config)
        model.save_pretrained(tmp_path / "hf", format="huggingface")
        loaded = AutoModel.from_pretrained(str(tmp_path / "hf"))
        loaded.set_train(False)
        for got, want in zip(_outputs(loaded, ids), _outputs(model, ids)):
            np.testing.assert_array_equal(got, want)

    # ---- tokenizer ---------------------------------------------------------------------
    def test_tokenizer_round_trip_and_special_tokens(self, preset, tmp_path):
        from .auto import AutoTokenizer

        family = _family(preset)
        if family.tokenizer_class is None:
            pytest.skip(f"{family.model_type} registers no tokenizer")
        tokenizer = AutoTokenizer.from_pretrained(preset)
        ids = tokenizer(TEXT, add_special_tokens=False)["input_ids"]
        decoded = tokenizer.decode(ids, skip_special_tokens=True)
        # the decoded text encodes to the same ids (a lower-casing tokenizer does not give TEXT back)
        assert ids and tokenizer(decoded, add_special_tokens=False)["input_ids"] == ids, decoded
        vocab_size = _config(preset).vocab_size
        assert max(ids) < vocab_size, f"token id {max(ids)} is outside the model's vocab_size {vocab_size}"
        for name in ("bos_token", "eos_token", "pad_token", "unk_token"):
            token = getattr(tokenizer, name, None)
            if token:
                token_id = tokenizer.convert_tokens_to_ids(token)
                assert token_id is not None and 0 <= token_id < vocab_size, f"{name} {token!r} has id {token_id}"
                assert tokenizer.convert_ids_to_tokens(token_id) == token
        tokenizer.save_pretrained(tmp_path / "tok")
        again = AutoTokenizer.from_pretrained(str(tmp_path / "tok"))
        assert again(TEXT, add_special_tokens=False)["input_ids"] == ids
        assert again(TEXT)["input_ids"] == tokenizer(TEXT)["input_ids"]

    # ---- behaviour -----------------------------------------------------------------------
    def test_cached_and_uncached_greedy_decoding_are_identical(self, preset):
        role = self._generating_role_or_skip(preset)
        model = _build(preset, role)
        prompts = self.example_ids(model.config)[:, :5]
        cached = model.generate(prompts, max_new_tokens=6, min_new_tokens=6, use_cache=True)
        uncached = model.generate(prompts, max_new_tokens=6, min_new_tokens=6, use_cache=False)
        np.testing.assert_array_equal(cached, uncached)
        # a causal LM returns prompt + new tokens, an encoder-decoder the decoder start token + new tokens
        start = prompts.shape[1] if role == "causal_lm" else 1
        assert cached.shape == (prompts.shape[0], start + 6)

    def test_encoder_decoder_has_the_family_methods(self, preset):
        from .models import EncoderDecoderLM

        family = _family(preset)
        cls = family.model_classes.get("seq2seq_lm")
        if cls is None:
            pytest.skip(f"{family.model_type} has no seq2seq_lm role")
        assert issubclass(cls, EncoderDecoderLM), f"{cls.__name__} must subclass mf.models.EncoderDecoderLM"
        missing = [name for name in EncoderDecoderLM.FAMILY_METHODS if not callable(getattr(cls, name, None))]
        assert not missing, f"{cls.__name__} lacks {', '.join(missing)} (see mf.models.seq2seq_lm)"

    def test_one_trainer_step_lowers_the_loss(self, preset, tmp_path):
        from .data import TokenBlocks
        from .trainer import Trainer, TrainingArguments

        self._causal_lm_or_skip(preset)
        model = _build(preset)
        batch = TokenBlocks(self.example_ids(model.config), source="a fixed batch")
        args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=len(batch), max_steps=1,
                                 learning_rate=1e-2, warmup_steps=0, weight_decay=0.0, save_steps=0,
                                 logging_steps=1, plot_loss=False, seed=0)
        trainer = Trainer(model=model, args=args, train_dataset=batch, eval_dataset=batch)
        before = trainer.evaluate()["eval_loss"]
        trainer.train()
        after = trainer.evaluate()["eval_loss"]
        assert np.isfinite(before) and after < before, f"loss {before:.4f} -> {after:.4f} after one Trainer step"

    @pytest.mark.parametrize("role", ["sequence_classification", "token_classification", "question_answering",
                                      "masked_lm", "seq2seq_lm", "image_classification", "masked_image_modeling",
                                      "image_text"])
    def test_encoder_role_trains_on_cores_task(self, preset, role, tmp_path):
        """The Trainer trains the role's class on core's task of that role, from the task's data format,
        with the family's tokenizer (or image processor); the loss falls."""
        from .trainer import Trainer, TrainingArguments

        if role not in _family(preset).model_classes:
            pytest.skip(f"{_family(preset).model_type} has no {role} model")
        task, data = _task_data(role, tmp_path)
        args = TrainingArguments(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, max_steps=4,
                                 learning_rate=1e-2, warmup_steps=0, weight_decay=0.0, save_steps=0, logging_steps=1,
                                 plot_loss=False, seed=0, seq_length=32, shuffle=False,
                                 random_resized_crop_scale=[1.0, 1.0], random_flip=False)
        trainer = Trainer(task=task, model=preset, args=args, train_dataset=str(data), eval_dataset=str(data))
        trainer.train()
        first = trainer.state.log_history[0]["loss"]
        after = trainer.evaluate()["eval_loss"]
        assert np.isfinite(first) and after < first, f"{task}: loss {first:.4f} -> {after:.4f} after 4 steps"

    def test_training_mode_computes_what_inference_does(self, preset):
        """With dropout off, a model in training mode gives its inference outputs: the paths only training takes
        (attention's q, k, v projected as one product, its fused training kernels) compute the same function."""
        model = _build(preset)
        ids = self.example_ids(model.config)
        inference = _outputs(model, ids)
        model.set_train(True)
        for got, want in zip(_outputs(model, ids), inference):
            np.testing.assert_allclose(got, want, atol=self.atol, rtol=1e-4)

    def test_lora_merged_equals_unmerged(self, preset):
        from mindspore import Tensor

        from .pet import apply_pet, merge_and_unload

        family = _family(preset)
        if not family.pet_target_modules:
            pytest.skip(f"{family.model_type} declares no pet_target_modules for LoRA")
        model = _build(preset)
        ids = self.example_ids(model.config)
        before = _outputs(model, ids)
        apply_pet(model, "lora", r=4, lora_alpha=8)
        rng = np.random.default_rng(0)
        for name, param in model.parameters_and_names():
            if "lora_B" in name:  # LoRA starts as the identity (B = 0); make it change the output
                param.set_data(Tensor((0.05 * rng.standard_normal(param.shape)).astype(np.float32)))
        model.set_train(False)
        unmerged = _outputs(model, ids)
        assert any(np.abs(u - b).max() > 1e-4 for u, b in zip(unmerged, before)), "LoRA did not change the output"
        merge_and_unload(model)
        model.set_train(False)
        for got, want in zip(_outputs(model, ids), unmerged):
            np.testing.assert_allclose(got, want, atol=self.atol * 10, rtol=1e-4)
        assert not any("lora_" in name for name, _ in model.parameters_and_names())

    def test_sharding_plan_names_real_layers_and_divides(self, preset):
        from .pet.lora import _matches
        from .nn.layers import Embedding, Linear

        family = _family(preset)
        plan = family.sharding_plan
        if plan is None:
            pytest.skip(f"{family.model_type} declares no sharding plan (no model parallelism)")
        config = _config(preset)
        model = family.model_class()(config)
        cells = [(name, cell) for name, cell in model.cells_and_names() if name]
        variants = cells  # a plan may name the untied head, which a tied config does not build
        if isinstance(getattr(config, "tie_word_embeddings", None), bool):
            flipped = type(config).from_dict({**config.to_dict(), "tie_word_embeddings": not config.tie_word_embeddings})
            variants = cells + [(n, c) for n, c in family.model_class()(flipped).cells_and_names() if n]
        for kind in ("column", "row", "vocab"):
            for suffix in getattr(plan, kind):
                matched = [cell for name, cell in variants if _matches(name, [suffix])]
                assert matched, f"sharding plan's {kind} entry '{suffix}' names no layer of {type(model).__name__}"
                assert all(isinstance(cell, (Linear, Embedding)) for cell in matched), \
                    f"'{suffix}' must name mf.nn.Linear / Embedding layers"
        for suffix in plan.fused:
            assert suffix in plan.column, f"fused entry '{suffix}' must also be a column entry"
        for suffix, attributes in plan.divide.items():
            matched = [cell for name, cell in cells if _matches(name, [suffix])]
            assert matched, f"sharding plan's divide entry '{suffix}' names no layer"
            for cell in matched:
                for attribute in attributes:
                    assert isinstance(getattr(cell, attribute, None), int), \
                        f"'{suffix}' has no integer attribute '{attribute}' to divide"
        for field in plan.divisible:
            assert isinstance(getattr(config, field, None), int), f"divisible field '{field}' is not in the config"
        parts = 2
        if any(getattr(config, field) % parts for field in plan.divisible):
            pytest.skip(f"{preset} does not divide by {parts}: {plan.divisible}")
        for name, cell in cells:
            if isinstance(cell, Linear) and _matches(name, plan.column):
                blocks = next((k for s, k in plan.fused.items() if _matches(name, [s])), 1)
                assert cell.out_features % (parts * blocks) == 0, f"{name}: {cell.out_features} rows"
            elif isinstance(cell, Linear) and _matches(name, plan.row):
                assert cell.in_features % parts == 0, f"{name}: {cell.in_features} columns"
