"""What int8 costs in quality: held-out perplexity and a chat answer, float32 vs weight-only int8 vs dynamic
int8 (activations quantised per token too), one run.

    ./dev python benchmarks/quantization_quality.py [--model ~/.cache/mf-testdata/smollm2] [--windows 8]

SmolLM2-135M-Instruct from ../shared/data/scripts/fetch-large.sh smollm2. Perplexity over windows of 512
tokens of Moby-Dick (../shared/data/text, from its second half: text the model was not tuned on here), then
the same after model.quantize("int8") and model.quantize("int8", activation_dtype="int8"); and the answer to
"What is the capital of France?" each way; and each perplexity once more decoded token by token through the
key/value cache (the path generate() runs, with mf's decoding kernels). PyTorch's perplexities of the same
windows, float32 and after its dynamic int8 quantisation (quantize_dynamic on every nn.Linear), come from the
reference venv in the same run.
"""
import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from mf import AutoModel, AutoTokenizer, pipeline  # first: mf sets OpenMP's wait policy before mindspore loads
import numpy as np
import mindspore as ms

from _reference_env import run_reference

TEXT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "text" / "moby-dick.txt"
WINDOW = 512


def perplexity(model, windows):
    losses = []
    for window in windows:
        ids = ms.Tensor(window.reshape(1, -1).astype(np.int32))
        loss, _ = model(ids, labels=ids)
        losses.append(float(loss.asnumpy()))
    return math.exp(sum(losses) / len(losses))


def decoded_perplexity(model, windows):
    """The same perplexity computed the way generate() decodes: all windows as one batch, one token per step
    through the key/value cache, so every product is a decoding-sized one (mf's int8 kernels; perplexity()'s
    512-token forward passes multiply weight-only int8 by the dequantised matrix instead)."""
    from mf.generation.runner import decoder_for

    ids = np.stack(windows).astype(np.int32)
    batch, length = ids.shape
    decoder = decoder_for(model, batch, length)
    mask = np.ones((batch, length), np.float32)
    total = 0.0
    for t in range(length - 1):
        logits = decoder.step(ids[:, t:t + 1], mask, np.full((batch, 1), t, np.int32), t).astype(np.float64)
        peak = logits.max(axis=1, keepdims=True)
        log_norm = peak[:, 0] + np.log(np.exp(logits - peak).sum(axis=1))
        total += float((log_norm - logits[np.arange(batch), ids[:, t + 1]]).sum())
    return math.exp(total / (batch * (length - 1)))


def answer(model, tokenizer):
    chat = pipeline("text_generation", model=model, tokenizer=tokenizer)
    result = chat([{"role": "user", "content": "What is the capital of France?"}], max_new_tokens=20)
    return result[0]["text_generation_text"][0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(Path.home() / ".cache" / "mf-testdata" / "smollm2"))
    parser.add_argument("--windows", type=int, default=8)
    args = parser.parse_args()
    ms.set_device("CPU")
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    text = TEXT.read_text(encoding="utf-8")
    ids = np.array(tokenizer.encode(text[len(text) // 2:len(text) // 2 + 40 * WINDOW * args.windows]))
    windows = [ids[i * WINDOW:(i + 1) * WINDOW] for i in range(args.windows)]
    assert all(len(w) == WINDOW for w in windows), "not enough text for the windows"
    with tempfile.TemporaryDirectory() as scratch:
        np.save(f"{scratch}/windows.npy", np.stack(windows))
        reference = json.loads(run_reference("_torch_perplexity.py", args.model, f"{scratch}/windows.npy", 2))
    model = AutoModel.from_pretrained(args.model)
    start = time.perf_counter()
    float_ppl = perplexity(model, windows)
    float_s = time.perf_counter() - start
    float_answer = answer(model, tokenizer)
    float_decoded = decoded_perplexity(model, windows)
    model.quantize("int8")
    start = time.perf_counter()
    int8_ppl = perplexity(model, windows)
    int8_s = time.perf_counter() - start
    int8_answer = answer(model, tokenizer)
    int8_decoded = decoded_perplexity(model, windows)
    model.quantize("int8", activation_dtype="int8")
    start = time.perf_counter()
    dynamic_ppl = perplexity(model, windows)
    dynamic_s = time.perf_counter() - start
    dynamic_answer = answer(model, tokenizer)
    dynamic_decoded = decoded_perplexity(model, windows)
    print(f"{args.model}: {args.windows} windows of {WINDOW} tokens of Moby-Dick (second half)")
    print(f"perplexity float32 {float_ppl:.4f} ({float_s:.1f} s), int8 weights {int8_ppl:.4f} ({int8_s:.1f} s): "
          f"{100 * (int8_ppl / float_ppl - 1):+.2f}%")
    print(f"answer float32: {float_answer!r}")
    print(f"perplexity dynamic int8 (int8 activations too) {dynamic_ppl:.4f} ({dynamic_s:.1f} s): "
          f"{100 * (dynamic_ppl / float_ppl - 1):+.2f}%")
    print(f"decoded token by token (generate()'s path, the decoding kernels): float32 {float_decoded:.4f}, "
          f"int8 weights {int8_decoded:.4f} ({100 * (int8_decoded / float_decoded - 1):+.2f}%), dynamic int8 "
          f"{dynamic_decoded:.4f} ({100 * (dynamic_decoded / float_decoded - 1):+.2f}%)")
    print(f"PyTorch on the same windows: float32 {reference['float32']:.4f}, dynamic int8 "
          f"{reference['dynamic int8']:.4f}: {100 * (reference['dynamic int8'] / reference['float32'] - 1):+.2f}%")
    print(f"answer int8:    {int8_answer!r}  ({'same' if int8_answer == float_answer else 'DIFFERENT'})")
    print(f"answer dynamic: {dynamic_answer!r}  ({'same' if dynamic_answer == float_answer else 'DIFFERENT'})")


if __name__ == "__main__":
    main()
