"""`mf generate`: continue a prompt with a causal language model (or answer it, with --chat)."""
import sys
import warnings


def register(cli):
    parser = cli.add_command("generate", "continue a prompt with a text-generation model", run)
    parser.add_argument("--model", required=True, help="preset name or model directory")
    parser.add_argument("--tokenizer", default=None, help="tokenizer preset or directory (default: the model's)")
    parser.add_argument("--prompt", required=True, action="append",
                        help="text to continue (repeat the flag for a batch)")
    parser.add_argument("--max-new-tokens", type=int, default=50)
    parser.add_argument("--weight-dtype", choices=("float32", "int8"), default=None,
                        help="int8: decode with weight-only int8 weights (quantised after loading; a causal LM)")
    parser.add_argument("--activation-dtype", choices=("float32", "int8"), default=None,
                        help="int8 (with --weight-dtype int8): dynamic int8, the inputs of every product "
                             "quantised per token as it runs")
    parser.add_argument("--min-new-tokens", type=int, default=0)
    add_sampling_options(parser)
    parser.add_argument("--num-beams", type=int, default=1)
    parser.add_argument("--num-return-sequences", type=int, default=1)
    parser.add_argument("--stop", action="append", default=None, help="stop when the text ends with this string")
    parser.add_argument("--truncation", action="store_true", help="keep the end of a prompt that is too long")
    parser.add_argument("--stream", action="store_true", help="print tokens as they are generated")
    parser.add_argument("--chat", action="store_true",
                        help="treat each prompt as a user message and apply the model's chat template")
    parser.add_argument("--system", default=None, help="with --chat: a system prompt")


def add_sampling_options(parser):
    """Token selection flags shared by `mf generate` and `mf chat`."""
    parser.add_argument("--do-sample", action="store_true", help="sample instead of greedy decoding")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=50)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--repetition-penalty", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None, help="makes sampling reproducible")


def sampling_options(args) -> dict:
    return dict(do_sample=args.do_sample, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                repetition_penalty=args.repetition_penalty, seed=args.seed)


def run(args) -> int:
    from .. import quantization
    from ..generation import TextStreamer
    from ..pipelines import pipeline
    from ..pipelines.text_generation import NoNewTokensWarning

    generator = pipeline("text_generation", model=args.model, tokenizer=args.tokenizer)
    if args.weight_dtype or args.activation_dtype:  # a checkpoint saved quantised keeps its int8 weights
        model = generator.model
        model.quantize(args.weight_dtype or quantization.weight_dtype(model), activation_dtype=args.activation_dtype)
    options = dict(max_new_tokens=args.max_new_tokens, min_new_tokens=args.min_new_tokens,
                   num_beams=args.num_beams, num_return_sequences=args.num_return_sequences, stop_strings=args.stop,
                   truncation=args.truncation, **sampling_options(args))
    inputs = list(args.prompt)
    if args.chat:
        system = [{"role": "system", "content": args.system}] if args.system else []
        inputs = [system + [{"role": "user", "content": prompt}] for prompt in inputs]
    elif args.system:
        print("mf generate: --system needs --chat", file=sys.stderr)
        return 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NoNewTokensWarning)
        if args.stream:
            if len(inputs) > 1:
                print("mf generate: --stream takes one --prompt", file=sys.stderr)
                return 2
            streamer = TextStreamer(generator.tokenizer, skip_prompt=args.chat, skip_special_tokens=True)
            generator(inputs[0], streamer=streamer, **options)
        else:
            for result in generator(inputs, **options):
                for text in result["text_generation_text"]:
                    print(text)
                    print()
    for warning in caught:
        if issubclass(warning.category, NoNewTokensWarning):
            print(f"mf generate: note: {warning.message}", file=sys.stderr)
            break
    return 0
