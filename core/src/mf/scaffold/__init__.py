"""`mf plugin new mf-NAME`: write a complete, installable model-family distribution.

The template (template/, files ending in .tmpl) is a small decoder-only transformer on mf's
causal-LM base with every part a family has: configuration, modeling, tokenizer, presets, Hugging
Face converter, sharding plan, and tests that run mf.testing. Its tests pass as written.
"""
import re
from pathlib import Path
from typing import Dict, List

from ..errors import MFError

TEMPLATE = Path(__file__).with_name("template")
_DISTRIBUTION = re.compile(r"^mf-([a-z][a-z0-9]*(?:[-_][a-z0-9]+)*)$")


def names_for(distribution: str) -> Dict[str, str]:
    """The names the template uses, from a distribution name like mf-mymodel."""
    match = _DISTRIBUTION.match(distribution)
    if not match:
        raise MFError(f"'{distribution}' is not a plugin distribution name: use mf-NAME, NAME in lower-case "
                      f"letters and digits (words joined by - or _), e.g. mf-mymodel")
    name = match.group(1).replace("-", "_")
    from .. import PLUGIN_API, __version__

    major = int(PLUGIN_API.split(".")[0])
    return {"distribution": distribution, "name": name, "package": f"mf_{name}",
            "Name": "".join(part.capitalize() for part in name.split("_")),
            "mf_version": __version__, "plugin_api": PLUGIN_API, "plugin_api_next_major": str(major + 1)}


def render(text: str, names: Dict[str, str]) -> str:
    for key, value in names.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def create_plugin(distribution: str, directory) -> List[Path]:
    """Write the distribution into directory (which must not exist or be empty); returns the files."""
    names = names_for(distribution)
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise MFError(f"{directory} already exists and is not empty; choose a new directory "
                      f"(mf plugin new never overwrites files)")
    written = []
    for source in sorted(TEMPLATE.rglob("*.tmpl")):
        relative = source.relative_to(TEMPLATE).with_suffix("")  # drop .tmpl
        parts = [names["package"] if part == "package" else render(part, names) for part in relative.parts]
        target = directory.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(source.read_text(encoding="utf-8"), names), encoding="utf-8")
        written.append(target)
    return written
