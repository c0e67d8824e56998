"""The model cards in docs/models are what `mf cards` writes from the installed plugins, and their
examples run."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs" / "models"


def test_committed_cards_are_up_to_date(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mf.cli", "cards", "--output", str(tmp_path)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for card in sorted(tmp_path.glob("*.md")):
        committed = DOCS / card.name
        assert committed.is_file(), f"{committed} is missing: run `./dev mf cards` and commit docs/models"
        assert committed.read_text() == card.read_text(), f"{committed} is stale: run `./dev mf cards`"


@pytest.mark.parametrize("card", ["bert.md", "gpt2.md", "llama.md", "t5.md", "clip.md"])
def test_card_example_runs(card):
    text = (DOCS / card).read_text()
    [example] = re.findall(r"## Example.*?```python\n(.*?)```", text, re.S)
    result = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()  # the decoded continuation
