"""`mf data prepare`: raw text -> packed MindRecord samples for training."""


def register(cli):
    parser = cli.add_command("data", "prepare datasets", run)
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    prepare = sub.add_parser("prepare", help="tokenize text/JSONL, add EOS between documents, pack into MindRecord")
    prepare.add_argument("input", help="a .txt or .jsonl file, or a directory of them")
    prepare.add_argument("out_dir", help="directory to write data.mindrecord into")
    prepare.add_argument("--tokenizer", required=True, help="tokenizer preset or directory (e.g. gpt2)")
    prepare.add_argument("--seq-length", type=int, required=True, help="tokens per sample (rows hold seq-length + 1)")
    prepare.add_argument("--on-bad-line", choices=("fail", "skip"), default="fail",
                         help="what to do with a JSONL line that is not a JSON object with a text field")


def run(args) -> int:
    from ..auto import AutoTokenizer
    from ..data.prepare import prepare

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    summary = prepare(args.input, args.out_dir, tokenizer, args.seq_length, args.on_bad_line)
    print(f"{summary['files']} file(s), {summary['documents']} documents, {summary['tokens']} tokens "
          f"(with an EOS after each document) -> {summary['samples']} samples of {summary['seq_length'] + 1} "
          f"tokens in {args.out_dir}; dropped the last {summary['dropped_tokens']} tokens (less than one sample)")
    return 0
