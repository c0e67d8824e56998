"""Recomputing transformer blocks in the backward pass gives the same gradients, dropout included (keyed
masks are redrawn identically by the recomputed forward)."""
import numpy as np
import mindspore as ms
from mindspore import Tensor

from mf import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, TokenBlocks, Trainer, TrainingArguments
from mf.nn import key_dropouts, set_dropout_key


def _gradients(model):
    ids = Tensor(np.random.default_rng(0).integers(0, 101, (2, 16)).astype(np.int32))
    weights = model.trainable_params()
    key_dropouts(model)
    model.set_train(True)
    set_dropout_key(seed=0, step=0)

    def loss(x):
        return model(x, labels=x)[0]

    fn = ms.jit(ms.value_and_grad(loss, None, weights))
    loss, grads = fn(ids)
    return float(loss.asnumpy()), [g.asnumpy() for g in grads]


def test_recompute_gives_the_same_gradients():
    def gpt2():
        return GPT2LMHeadModel(GPT2Config(vocab_size=101, hidden_size=32, num_layers=3, num_heads=4, seq_length=32,
                                          hidden_dropout=0.1, embedding_dropout=0.1, attention_dropout=0.1))

    def llama():
        return LlamaForCausalLM(LlamaConfig(vocab_size=101, hidden_size=32, intermediate_size=64, num_layers=3,
                                            num_heads=4, n_kv_heads=2, seq_length=32))

    for build in (gpt2, llama):
        ms.set_seed(0)
        plain = build()
        ms.set_seed(0)
        recomputed = build()
        trainer = Trainer(model=recomputed, args=TrainingArguments(output_dir="unused"))
        trainer.set_recompute_config(recompute=True)
        trainer._apply_recompute(recomputed)
        assert all(getattr(block, "_has_config_recompute", False) for _, block in recomputed.transformer_blocks())
        loss_a, grads_a = _gradients(plain)
        if build is gpt2:  # dropout really ran: eval mode's loss differs
            plain.set_train(False)
            ids = Tensor(np.random.default_rng(0).integers(0, 101, (2, 16)).astype(np.int32))
            assert abs(loss_a - float(plain(ids, labels=ids)[0].asnumpy())) > 1e-4
        loss_b, grads_b = _gradients(recomputed)
        assert abs(loss_a - loss_b) < 1e-6
        for a, b in zip(grads_a, grads_b):
            np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


def test_select_recompute_names_blocks(tmp_path):
    import pytest

    from mf.trainer import TrainingError

    model = GPT2LMHeadModel(GPT2Config(vocab_size=101, hidden_size=32, num_layers=2, num_heads=4, seq_length=32))
    trainer = Trainer(model=model, args=TrainingArguments(output_dir=str(tmp_path)))
    trainer.set_recompute_config(recompute=True, select_recompute=["transformer.h.7"])
    with pytest.raises(TrainingError, match="names no block; blocks are transformer.h.0, transformer.h.1"):
        trainer._apply_recompute(model)
