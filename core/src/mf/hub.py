"""Weights by name: Hugging Face Hub repositories, fetched with huggingface_hub.

`from_pretrained("openai-community/gpt2")` and presets that name a Hub repository (`gpt2`) download
the repository's safetensors weights, config and tokenizer files into huggingface_hub's cache
(HF_HOME, resumable, with its progress bars), then load that directory like any Hugging Face
checkpoint (names converted on load). HF_ENDPOINT, HF_HUB_OFFLINE and HF_TOKEN work as they do for
transformers. Repositories with only pickle weights (.bin, .pt, .ckpt) are refused: mf never unpickles.
"""
import os
import re
from pathlib import Path
from typing import Optional

from .errors import WeightsError, WeightsNotFoundError

# owner/name, as the Hub spells repository ids
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
# what mf reads from a repository: never pickles, never other frameworks' weights
FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]
WEIGHT_FILES = ["*.safetensors", "*.safetensors.index.json"]


def is_hub_id(name: str) -> bool:
    """Whether name reads as a Hub repository id (owner/name) rather than a local path."""
    return bool(_HUB_ID.match(name)) and ".." not in name


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def fetch(repo_id: str, revision: Optional[str] = None, weights: bool = True, token=None) -> Path:
    """The local snapshot directory of repo_id at revision, downloading what is missing.

    weights=False fetches only the config and tokenizer files (AutoConfig, AutoTokenizer)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub import errors as hub_errors

    token = token or os.environ.get("HF_TOKEN") or None
    where = f"{repo_id}" + (f" (revision {revision})" if revision else "")
    try:
        if weights and not _offline():
            _check_weights_are_safetensors(repo_id, revision, token)
        patterns = FILES if weights else [p for p in FILES if p != "*.safetensors"]
        path = Path(snapshot_download(repo_id, revision=revision, token=token, allow_patterns=patterns))
    except hub_errors.GatedRepoError:
        raise WeightsError(f"{where} is gated: accept its licence on the Hub, then log in with "
                           f"`hf auth login` or set HF_TOKEN") from None
    except hub_errors.RepositoryNotFoundError:
        raise WeightsNotFoundError(f"no Hub repository {where} (nor a local directory of that name); check the "
                                   f"id, or set HF_TOKEN if it is private") from None
    except hub_errors.RevisionNotFoundError:
        raise WeightsNotFoundError(f"{repo_id} has no revision '{revision}'") from None
    except hub_errors.LocalEntryNotFoundError:
        raise WeightsNotFoundError(
            f"{where} is not in the Hugging Face cache and cannot be downloaded "
            f"({'HF_HUB_OFFLINE is set' if _offline() else 'the Hub cannot be reached'}): download it once "
            f"with a network connection, or pass a local checkpoint directory") from None
    except hub_errors.HfHubHTTPError as exc:
        raise WeightsError(f"downloading {where} failed: {exc}") from None
    if weights and not (list(path.glob("*.safetensors")) or (path / "model.safetensors.index.json").is_file()):
        raise WeightsNotFoundError(f"{where} in the Hugging Face cache has no safetensors weights; "
                                   f"download it once with a network connection (unset HF_HUB_OFFLINE)")
    return path


def _check_weights_are_safetensors(repo_id, revision, token):
    from huggingface_hub import HfApi

    try:
        files = HfApi().list_repo_files(repo_id, revision=revision, token=token)
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "requests"):  # no connection:
            return  # snapshot_download then serves the cache, or says it cannot
        raise
    if any(name.endswith(".safetensors") for name in files):
        return
    pickles = [name for name in files if name.endswith(PICKLE_SUFFIXES)]
    if pickles:
        raise WeightsError(
            f"{repo_id} has only pickle weights ({', '.join(sorted(pickles)[:3])}); mf never unpickles, since "
            f"loading a pickle can run any code. Use a repository with model.safetensors, or convert this one "
            f"yourself where you trust it (transformers: save_pretrained(..., safe_serialization=True)) and pass "
            f"the directory")
    raise WeightsNotFoundError(f"{repo_id} has no weights (no .safetensors files)")
