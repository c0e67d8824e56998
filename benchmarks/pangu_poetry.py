"""PanGu-Alpha pre-trained on classical Chinese poetry by `mf run`: held-out perplexity before and after.

    ../shared/data/scripts/fetch-datasets.sh ~/.cache/mf-testdata zh_poetry   # once (the script fetches it too)
    ./dev python benchmarks/pangu_poetry.py [--epochs 4] [--train-every 40]

A PanGu-Alpha (top query layer included) on mf-gpt's stand-in PanGu tokenizer (jieba + SentencePiece, trained on
this corpus and modern Chinese) is built with random weights, then:
1. `mf run --run_mode eval` measures its perplexity on held-out poems;
2. `mf run --run_mode train` pre-trains it on the training poems (one poem in every `--train-every`);
3. `mf run --run_mode eval` measures the held-out perplexity again; a held-out poem's first half-line is
   continued greedily.
Held-out poems are one in every 500 (offset so that no poem is in both sets).
Printed: parameters, tokens, held-out perplexity and loss before and after, the minutes each step took.
"""
import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

from _mf_run import mf_run

HERE = Path(__file__).parent
FETCH = HERE.parent.parent / "shared" / "data" / "scripts" / "fetch-datasets.sh"
DATA = Path(os.environ.get("MF_TESTDATA", Path.home() / ".cache" / "mf-testdata"))
MODEL = dict(hidden_size=256, num_layers=4, num_heads=8, seq_length=128)


def metrics(line):
    data = json.loads(line[line.index("{"):])
    return data["eval_perplexity"], data["eval_loss"], data.get("eval_tokens")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=float, default=4)
    parser.add_argument("--train-every", type=int, default=40)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    args = parser.parse_args()
    poems_file = DATA / "zh_poetry" / "poems.txt"
    if not poems_file.is_file():
        subprocess.run(["bash", str(FETCH), str(DATA), "zh_poetry"], check=True)
    poems = poems_file.read_text(encoding="utf-8").splitlines()
    train = [p for i, p in enumerate(poems) if i % args.train_every == 1]
    held_out = [p for i, p in enumerate(poems) if i % 500 == 7]
    import mindspore as ms
    from mf import AutoConfig, AutoModel, AutoTokenizer, pipeline

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        (work / "train.txt").write_text("\n\n".join(train), encoding="utf-8")
        (work / "held_out.txt").write_text("\n\n".join(held_out), encoding="utf-8")
        ms.set_seed(0)
        config = AutoConfig.from_pretrained("pangualpha_tiny", **MODEL)
        model = AutoModel.from_config(config)
        model.save_pretrained(work / "init")
        AutoTokenizer.from_pretrained("pangualpha_tiny").save_pretrained(work / "init")
        parameters = sum(p.size for p in model.get_parameters())
        print(f"PanGu-Alpha {MODEL['num_layers']} layers (the last the top query layer) x {MODEL['hidden_size']}: "
              f"{parameters / 1e6:.1f}M parameters; {len(train)} training poems "
              f"({sum(map(len, train)) / 1e6:.2f}M characters), {len(held_out)} held-out poems", flush=True)
        eval_options = ["--task", "text_generation", "--run_mode", "eval", "--eval_dataset", str(work / "held_out.txt"),
                        "--seq_length", str(MODEL["seq_length"]), "--per_device_eval_batch_size", "16"]
        line, minutes = mf_run(*eval_options, "--load_checkpoint", str(work / "init"), "--output_dir",
                               str(work / "eval-init"))
        before = metrics(line)
        print(f"1. untrained: held-out perplexity {before[0]:.1f} (loss {before[1]:.3f}, {before[2]} tokens); "
              f"{minutes:.1f} min", flush=True)
        _, minutes = mf_run("--task", "text_generation", "--model_type", str(work / "init"), "--run_mode", "train",
                            "--train_dataset", str(work / "train.txt"), "--output_dir", str(work / "trained"),
                            "--seq_length", str(MODEL["seq_length"]), "--batch_size", "16", "--learning_rate",
                            str(args.learning_rate), "--warmup_ratio", "0.05", "--num_train_epochs", str(args.epochs),
                            "--save_steps", "0", "--plot_loss", "false", "--logging_steps", "100")
        print(f"2. pre-training (mf run --run_mode train, {args.epochs:g} epochs): {minutes:.1f} min", flush=True)
        line, minutes = mf_run(*eval_options, "--load_checkpoint", str(work / "trained"), "--output_dir",
                               str(work / "eval-trained"))
        after = metrics(line)
        print(f"3. trained: held-out perplexity {after[0]:.1f} (loss {after[1]:.3f}); {minutes:.1f} min", flush=True)
        prompt = held_out[0].split("，")[0] + "，"  # the first half-line: a poem goes on after a comma
        generator = pipeline("text_generation", model=str(work / "trained"), max_new_tokens=24, do_sample=False)
        [result] = generator(prompt)
        print(f"a held-out poem's first half-line {prompt!r}, continued: {result['text_generation_text'][0]!r}")
        print(f"held-out perplexity {before[0]:.1f} -> {after[0]:.1f} ({before[0] / after[0]:.1f}x lower)")


if __name__ == "__main__":
    main()
