"""A third party's plugin that uses every registration hook besides the model one: a task with its
pipeline, a PET method, a dataset format and an `mf` sub-command. tests/test_plugin_authoring.py
installs it as a second entry point of a scaffolded distribution, and uses each part end to end."""
import csv
from pathlib import Path

import numpy as np

from mf import hookimpl
from mf.pipelines import Pipeline

MF_PLUGIN_API = ">=1.0,<2"


class TextScoringPipeline(Pipeline):
    """task "text_scoring": mean next-token log-likelihood and perplexity of each text under a causal LM."""

    task = "text_scoring"

    def run_batch(self, items, **options):
        from mindspore import Tensor

        self.model.set_train(False)
        results = []
        for text in items:
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            if len(ids) < 2:
                raise ValueError(f"text_scoring needs at least 2 tokens, got {len(ids)} for {text!r}")
            logits = self.model(Tensor(np.asarray([ids], np.int32))).asnumpy()[0, :-1].astype(np.float64)
            logits -= logits.max(-1, keepdims=True)
            log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
            mean = float(log_probs[np.arange(len(ids) - 1), ids[1:]].mean())
            results.append({"text": text, "mean_log_likelihood": mean, "perplexity": float(np.exp(-mean))})
        return results


def apply_last_blocks(model, blocks: int = 1, **options):
    """PET method "last_blocks": train only the last `blocks` transformer blocks, freeze the rest."""
    from mf.pet import PETError

    if options:
        raise PETError(f"last_blocks takes only blocks=, got {', '.join(sorted(options))}")
    names = [name for name, _ in model.transformer_blocks()]
    if not 1 <= blocks <= len(names):
        raise PETError(f"last_blocks: blocks must be in 1..{len(names)}, got {blocks}")
    trained = tuple(name + "." for name in names[-blocks:])
    for name, param in model.parameters_and_names():
        param.requires_grad = name.startswith(trained)
    model.__dict__["_mf_pet"] = {"method": "last_blocks", "config": None}
    return model


class CsvTextFormat:
    """dataset format "csv_text": a .csv file with a `text` column, one document a row."""

    name = "csv_text"

    def detect(self, path: Path) -> bool:
        return path.is_file() and path.suffix == ".csv"

    def load(self, path: Path, tokenizer=None, seq_length=None, on_bad_line="fail"):
        from mf.data.blocks import DatasetError, pack_documents

        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if "text" not in (reader.fieldnames or []):
                raise DatasetError(f"{path} has no 'text' column (columns: {reader.fieldnames})")
            documents = [row["text"] for row in reader if row["text"].strip()]
        return pack_documents(documents, tokenizer, seq_length, str(path))[0]


def count_tokens(args):
    """`mf count-tokens FILE --model PRESET`: how many tokens a text file is for a model's tokenizer."""
    from mf import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    text = Path(args.file).read_text(encoding="utf-8")
    print(f"{len(tokenizer(text, add_special_tokens=False)['input_ids'])} tokens")
    return 0


@hookimpl
def mf_register_tasks(registry):
    registry.add_task("text_scoring", pipeline_class=TextScoringPipeline, model_role="causal_lm",
                      metrics=("perplexity",))


@hookimpl
def mf_register_pet_methods(registry):
    registry.add_pet_method("last_blocks", apply_last_blocks)


@hookimpl
def mf_register_datasets(registry):
    registry.add_dataset_format("csv_text", CsvTextFormat())


@hookimpl
def mf_register_commands(cli):
    parser = cli.add_command("count-tokens", "count the tokens of a text file for a model's tokenizer",
                             count_tokens)
    parser.add_argument("file")
    parser.add_argument("--model", required=True, help="preset or model directory")
