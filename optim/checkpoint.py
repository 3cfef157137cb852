"""Training checkpoints: parameters, optimizer state and progress in one atomic .npz."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import jax
import numpy as np

from common.atomic import atomic_output
from common.errors import InputError


def save_checkpoint(path: str | Path, step: int, params, opt_state, fingerprint: str,
                    history: list[dict]) -> None:
    """Write atomically: a killed process leaves the previous checkpoint intact."""
    leaves = jax.tree_util.tree_leaves((params, opt_state))
    arrays = {f"leaf{i:04d}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    meta = {"step": step, "fingerprint": fingerprint, "history": history, "leaves": len(leaves)}
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, allow_pickle=False, meta=np.array(json.dumps(meta)), **arrays)


def load_checkpoint(path: str | Path, params, opt_state, fingerprint: str):
    """Restore ``(step, params, opt_state, history)`` into the structure of the given
    templates; the checkpoint must come from the same configuration (``fingerprint``)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            leaves = [npz[f"leaf{i:04d}"] for i in range(meta["leaves"])]
    except FileNotFoundError:
        raise InputError(f"{path}: no checkpoint to resume from") from None
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable soundstage checkpoint ({exc}); delete it "
                         f"or train without --resume") from None
    if meta.get("fingerprint") != fingerprint:
        raise InputError(f"{path}: checkpoint was made with another configuration (array, "
                         f"seed, design or weights differ); train without --resume or use the "
                         f"same settings")
    template, treedef = jax.tree_util.tree_flatten((params, opt_state))
    if len(template) != len(leaves) or any(np.shape(a) != np.shape(b) for a, b in zip(template, leaves)):
        raise InputError(f"{path}: checkpoint arrays do not match this configuration")
    params, opt_state = jax.tree_util.tree_unflatten(
        treedef, [np.asarray(leaf, dtype=np.asarray(t).dtype) for leaf, t in zip(leaves, template)])
    return int(meta["step"]), params, opt_state, list(meta["history"])
