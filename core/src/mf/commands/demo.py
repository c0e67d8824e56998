"""`mf demo`: the README's first command, a round trip through the public API on embedded data."""
import tempfile
from pathlib import Path

import numpy as np


def register(cli):
    parser = cli.add_command("demo", "tokenize -> model -> save -> reload round trip with a tiny GPT-2", run)
    parser.add_argument("--model", default="gpt2_tiny", help="preset to build with random weights (default gpt2_tiny)")
    parser.add_argument("--output", default=None, help="directory to save the model in (default: a temporary one)")
    parser.add_argument("--text", default="I love Beijing, because", help="text to tokenize and score")


def run(args) -> int:
    import mindspore as ms

    from ..auto import AutoConfig, AutoModel, AutoTokenizer

    ms.set_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    encoded = tokenizer(args.text, return_tensors="ms")
    print(f"tokenized {args.text!r} -> {encoded['input_ids'].asnumpy().tolist()[0]}")
    model = AutoModel.from_config(AutoConfig.from_pretrained(args.model))
    model.set_train(False)
    logits = model(encoded["input_ids"]).asnumpy()
    print(f"{type(model).__name__} ({model.num_parameters():,} parameters, random weights) -> logits {list(logits.shape)}")
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(args.output or scratch)
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
        print(f"saved to {directory}: {', '.join(sorted(p.name for p in directory.iterdir()))}")
        reloaded = AutoModel.from_pretrained(str(directory))
        reloaded.set_train(False)
        again = reloaded(AutoTokenizer.from_pretrained(str(directory))(args.text, return_tensors="ms")["input_ids"]).asnumpy()
    diff = float(np.abs(again - logits).max())
    print(f"reloaded: max |logits difference| = {diff:.3g}")
    if diff != 0.0:
        print("error: the reloaded model does not reproduce the saved one")
        return 1
    print("round trip OK")
    return 0
