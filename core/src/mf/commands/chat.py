"""`mf chat MODEL`: talk to a chat model in the terminal, on its chat template, with streamed replies.

    mf chat ~/.cache/mf-testdata/smollm2 --system "You are a concise assistant."

Type a message and press Enter; /reset forgets the conversation, /exit (or Ctrl-D) quits.
"""
import sys
import time

from .generate import add_sampling_options, sampling_options

PROMPT = ">>> "


def register(cli):
    parser = cli.add_command("chat", "chat with a model in the terminal (its chat template, streamed replies)", run)
    parser.add_argument("model", help="preset, model directory or Hub id of a chat model")
    parser.add_argument("--tokenizer", default=None, help="tokenizer preset or directory (default: the model's)")
    parser.add_argument("--system", default=None, help="system prompt")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    add_sampling_options(parser)


def _reply_streamer(tokenizer):
    """A TextStreamer that writes the reply to the terminal as it comes, and counts its tokens."""
    from ..generation import TextStreamer

    class ReplyStreamer(TextStreamer):
        tokens = 0
        first_token_at = None

        def put(self, token_ids):
            if not self.next_is_prompt:  # the first call brings the prompt
                self.tokens += 1
                if self.first_token_at is None:
                    self.first_token_at = time.perf_counter()
            super().put(token_ids)

        def on_text(self, text, stream_end=False):
            sys.stdout.write(text)
            sys.stdout.flush()

    return ReplyStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)


def run(args) -> int:
    from ..errors import MFError
    from ..pipelines import pipeline

    generator = pipeline("text_generation", model=args.model, tokenizer=args.tokenizer)
    if not getattr(generator.tokenizer, "chat_template", None):
        raise MFError(f"{args.model} has no chat template (tokenizer_config.json 'chat_template'), so it is not a "
                      f"chat model; use `mf generate --model {args.model} --prompt ...` to continue text")
    options = dict(max_new_tokens=args.max_new_tokens, **sampling_options(args))
    system = [{"role": "system", "content": args.system}] if args.system else []
    history = list(system)
    print(f"mf chat with {args.model}. /reset forgets the conversation, /exit or Ctrl-D quits.", flush=True)
    while True:
        print(PROMPT, end="", flush=True)  # input(PROMPT) would write it to stderr on a terminal
        try:
            line = input()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        message = line.strip()
        if message in ("/exit", "/quit"):
            return 0
        if message == "/reset":
            history = list(system)
            print("(conversation forgotten)", flush=True)
            continue
        if not message:
            continue
        history.append({"role": "user", "content": message})
        reply = _reply_streamer(generator.tokenizer)
        start = time.perf_counter()
        result = generator(history, streamer=reply, **options)[0]
        end = time.perf_counter()
        answer = result["messages"][-1]["content"]
        if not answer:
            print("(the model produced no new token: it ended its reply at once)", end="")
        history.append({"role": "assistant", "content": answer})
        # decoding speed after the first token; the wait for the first token (prompt, compilation) apart
        first = (reply.first_token_at or end) - start
        speed = (reply.tokens - 1) / (end - reply.first_token_at) if reply.tokens > 1 else 0.0
        print(f"\n[{reply.tokens} tokens, {speed:.1f} tokens/s, first token after {first:.1f} s]", flush=True)
