"""One training run per output_dir: two runs writing checkpoints into one folder mix them silently.

The first run to train into a folder holds an advisory lock on the folder itself (flock on its file descriptor,
so nothing is written into it) until its process ends; another process that tries gets a TrainingError at once.
Within one process the lock is taken once per folder, so a Trainer may train, then fine-tune, into the same
folder. On file systems without flock (some network mounts) no lock is taken.
"""
import errno
import fcntl
import os
from pathlib import Path
from typing import Dict

from ..errors import MFError

_held: Dict[str, int] = {}


def hold_output_dir(output_dir, error_class=MFError):
    """Lock output_dir for this process (creating it), or raise error_class if another process holds it."""
    path = Path(output_dir).resolve()
    key = str(path)
    if key in _held:
        return
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(key, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise error_class(f"output_dir {path} is in use by another training run; two runs writing into one "
                              f"folder would mix their checkpoints. Wait for it to finish, or give this run another "
                              f"output_dir") from None
        return  # no flock on this file system
    _held[key] = fd  # released when the process ends
