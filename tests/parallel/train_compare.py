"""Run alone or under `mf launch`: a few training steps of a tiny model with a parallel layout,
writing each step's loss and the final parameters (whole, gathered) to OUT_DIR (rank 0).

argv: OUT_DIR gpt2|llama|glm|bloom|pangualpha|bert|t5|vit|clip|mae dp mp pp optimizer_shard(0/1) optim [recompute(0/1)]
With dp = mp = pp = 1 it runs in one process: the reference. The global batch is 8 rows always;
a pipeline runs it as 2 micro-batches. bert trains token classification (an encoder task), with
labels hidden unevenly so that ranks hold different numbers of labelled tokens; t5 trains translation
(an encoder-decoder) on targets of uneven lengths; vit trains image classification with its training-time
augmentation on (random crops and flips, drawn for the global batch before it is split across ranks); clip
trains contrastively (the InfoNCE of the global batch, gathered across ranks); mae pre-trains with masks drawn
for the global batch.
"""
import json
import sys
from pathlib import Path

import mf  # noqa: F401
import numpy as np
import mindspore as ms

from mf import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, TokenBlocks, Trainer, TrainingArguments
from mf import init_context

out_dir, family = Path(sys.argv[1]), sys.argv[2]
dp, mp, pp, shard, optim = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1", sys.argv[7]
recompute = len(sys.argv) > 8 and sys.argv[8] == "1"
distributed = dp * mp * pp > 1
rank, _ = init_context(use_parallel=distributed)
ms.set_seed(0)
if family == "gpt2":
    model = GPT2LMHeadModel(GPT2Config(vocab_size=101, hidden_size=32, num_layers=2, num_heads=4, seq_length=32,
                                       hidden_dropout=0.0, embedding_dropout=0.0, attention_dropout=0.0))
elif family == "bert":
    from mf_bert import BertConfig, BertForTokenClassification

    model = BertForTokenClassification(BertConfig(vocab_size=101, hidden_size=32, num_layers=2, num_heads=4,
                                                  intermediate_size=64, seq_length=32, num_labels=5,
                                                  hidden_dropout=0.0, attention_dropout=0.0))
elif family == "t5":
    from mf_t5 import T5Config, T5ForConditionalGeneration

    model = T5ForConditionalGeneration(T5Config(vocab_size=101, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                                num_heads=4, relative_attention_num_buckets=8,
                                                relative_attention_max_distance=16, dropout_rate=0.0))
elif family == "vit":
    from mf_vision import ViTConfig, ViTForImageClassification

    model = ViTForImageClassification(ViTConfig(image_size=16, patch_size=4, hidden_size=32, num_hidden_layers=2,
                                                num_attention_heads=4, intermediate_size=64, num_labels=5))
elif family == "clip":
    from mf_vision import CLIPConfig, CLIPModel

    model = CLIPModel(CLIPConfig(text_config=dict(vocab_size=101, hidden_size=32, intermediate_size=64,
                                                  num_hidden_layers=2, num_attention_heads=4,
                                                  max_position_embeddings=16, eos_token_id=100),
                                 vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                                    num_attention_heads=4, image_size=16, patch_size=4),
                                 projection_dim=16))
elif family == "mae":
    from mf_vision import ViTMAEConfig, ViTMAEForPreTraining

    model = ViTMAEForPreTraining(ViTMAEConfig(image_size=16, patch_size=4, hidden_size=32, num_hidden_layers=2,
                                              num_attention_heads=4, intermediate_size=64, decoder_hidden_size=16,
                                              decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
                                              decoder_intermediate_size=32, norm_pix_loss=True))
elif family == "glm":
    from mf_glm import GLMConfig, GLMForCausalLM

    # random tokens include <sop> (100), [gMASK] (98) and [MASK] (97): rows exercise GLM's 2-D positions and
    # prefix-LM mask
    model = GLMForCausalLM(GLMConfig(vocab_size=101, hidden_size=32, inner_hidden_size=64, num_layers=2,
                                     num_heads=4, seq_length=32, bos_token_id=100, eos_token_id=99,
                                     mask_token_id=97, gmask_token_id=98, pad_token_id=0))
elif family == "bloom":
    from mf_gpt import BloomConfig, BloomForCausalLM

    # 6 heads: ALiBi's slopes for a head count that is not a power of two, split 3 + 3 over model_parallel=2
    model = BloomForCausalLM(BloomConfig(vocab_size=101, hidden_size=48, num_layers=2, num_heads=6, seq_length=32))
elif family == "pangualpha":
    from mf_gpt import PanguAlphaConfig, PanguAlphaHeadModel

    # 3 layers: two ordinary blocks and the top query layer (split over stages as 1 + (1 + top query layer))
    model = PanguAlphaHeadModel(PanguAlphaConfig(vocab_size=101, hidden_size=32, num_layers=3, num_heads=4,
                                                 seq_length=32, embedding_dropout_prob=0.0, hidden_dropout_rate=0.0,
                                                 attention_dropout_rate=0.0))
else:
    model = LlamaForCausalLM(LlamaConfig(vocab_size=101, hidden_size=32, intermediate_size=64, num_layers=2,
                                         num_heads=4, n_kv_heads=2, seq_length=32))
blocks = TokenBlocks(np.random.default_rng(0).integers(0, 101, (64, 17)))
task = "text_generation"
if family == "bert":
    from mf.tasks import Examples

    data = np.random.default_rng(0)
    labels = data.integers(0, 5, (64, 16)).astype(np.int32)
    labels[data.random((64, 16)) < np.linspace(0.1, 0.9, 64)[:, None]] = -100
    blocks = Examples({"input_ids": data.integers(0, 101, (64, 16)).astype(np.int32),
                       "attention_mask": np.ones((64, 16), np.int32), "token_type_ids": np.zeros((64, 16), np.int32),
                       "labels": labels}, info={"label_names": [f"L{i}" for i in range(5)]})
    task = "token_classification"
if family == "t5":
    from mf.tasks import Examples

    data = np.random.default_rng(0)
    lengths = data.integers(2, 17, 64)  # targets of 2..16 tokens: ranks hold different counts
    labels = data.integers(2, 101, (64, 16)).astype(np.int32)
    labels[np.arange(16)[None, :] >= lengths[:, None]] = -100
    decoder = np.concatenate([np.zeros((64, 1), np.int32), np.where(labels[:, :-1] < 0, 0, labels[:, :-1])], 1)
    blocks = Examples({"input_ids": data.integers(2, 101, (64, 16)).astype(np.int32),
                       "attention_mask": (np.arange(16)[None, :] < data.integers(4, 17, 64)[:, None]).astype(np.int32),
                       "decoder_input_ids": decoder, "decoder_attention_mask": (decoder > 0).astype(np.int32),
                       "labels": labels}, info={"references": []})
    task = "translation"
if family == "vit":
    from mf.image_processing import ImageProcessor
    from mf.tasks import Examples

    data = np.random.default_rng(0)
    blocks = Examples({"pixel_values": data.integers(0, 256, (64, 3, 16, 16)).astype(np.uint8),
                       "labels": data.integers(0, 5, 64).astype(np.int32)},
                      info={"label_names": [f"L{i}" for i in range(5)], "processor": ImageProcessor(size=16)})
    task = "image_classification"
if family in ("clip", "mae"):
    from mf.image_processing import ImageProcessor
    from mf.tasks import Examples

    data = np.random.default_rng(0)
    arrays = {"pixel_values": data.integers(0, 256, (64, 3, 16, 16)).astype(np.uint8)}
    if family == "clip":  # captions of 3..16 tokens ending in the end-of-text token 100
        lengths = data.integers(3, 17, 64)
        ids = data.integers(1, 100, (64, 16)).astype(np.int32)
        ids[np.arange(16)[None, :] >= lengths[:, None] - 1] = 100
        arrays.update(input_ids=ids, attention_mask=(np.arange(16)[None, :] < lengths[:, None]).astype(np.int32))
    info = {"processor": ImageProcessor(size=16), "patches": 16, "captions": [str(i) for i in range(64)]}
    blocks = Examples(arrays, info=info)
    task = "contrastive_language_image_pretrain" if family == "clip" else "masked_image_modeling"
args = TrainingArguments(output_dir=str(out_dir), batch_size=8 // dp, learning_rate=1e-2, max_steps=3,
                         logging_steps=1, save_steps=0, weight_decay=0.1, max_grad_norm=1.0, plot_loss=False,
                         optim=optim)
trainer = Trainer(task=task, model=model, args=args, train_dataset=blocks)
trainer.set_parallel_config(data_parallel=dp, model_parallel=mp, pipeline_stage=pp,
                            micro_batch_num=2 if pp > 1 else 1, optimizer_shard=shard)
trainer.set_recompute_config(recompute=recompute)
trainer.train()
if rank == 0:
    (out_dir / "losses.json").write_text(json.dumps([r["loss"] for r in trainer.state.log_history if "loss" in r]))
