"""Checkpoints: one .npz file, no pickle, written so that a crash never leaves a broken one.

Layout of the file (np.savez; every entry an array):
    model/<state_dict key>                    parameters and buffers
    optimizer/state/<param index>/<name>      optimizer state arrays (momentum, Adam moments)
    meta.json                                 a 0-d bytes array holding UTF-8 JSON: format and version,
                                              epoch, step, optimizer param_groups and scalar state,
                                              scheduler state_dict, history, RNG states, extra

Loading uses np.load(allow_pickle=False), so a checkpoint can never run code.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..creation import get_rng_state, set_rng_state
from ..nn.module import Module
from ..optim.lr_scheduler import LRScheduler
from ..optim.optimizer import Optimizer
from ..tensor import Tensor

FORMAT = "tinytorch-checkpoint"
VERSION = 1
_READ_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)  # what a damaged .npz raises


class CheckpointError(RuntimeError):
    """A file that is not a tinytorch checkpoint, is damaged, or does not fit the model/optimizer."""


def save_checkpoint(
    path: str | os.PathLike, model: Module, optimizer: Optimizer | None = None, scheduler: LRScheduler | None = None, *,
    epoch: int = 0, step: int = 0, history: dict | None = None, loader: Any = None, extra: dict | None = None,
) -> Path:  # fmt: skip
    """Write everything needed to continue training to `path` (one .npz), atomically; returns the path.
    `loader`: when it has a numpy Generator as .generator (its shuffle order), that state is saved too."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {f"model/{k}": _data(v) for k, v in model.state_dict().items()}
    meta: dict[str, Any] = {"format": FORMAT, "version": VERSION, "epoch": int(epoch), "step": int(step)}
    if optimizer is not None:
        sd = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for index, state in sd["state"].items():
            scalars[str(index)] = {}
            for name, value in state.items():
                if isinstance(value, (np.ndarray, Tensor)):
                    arrays[f"optimizer/state/{index}/{name}"] = _data(value)
                else:
                    scalars[str(index)][name] = value
        meta["optimizer"] = {"class": type(optimizer).__name__, "param_groups": sd["param_groups"], "state": scalars}
    if scheduler is not None:
        meta["scheduler"] = {"class": type(scheduler).__name__, "state": scheduler.state_dict()}
    meta["history"] = history
    meta["rng_state"] = get_rng_state()  # dropout masks and tinytorch-driven shuffles continue the same
    generator = getattr(loader, "generator", None)
    meta["loader_rng_state"] = generator.bit_generator.state if hasattr(generator, "bit_generator") else None
    meta["extra"] = extra
    for key, array in arrays.items():
        if array.dtype.hasobject:  # np.savez would pickle it, and loading refuses pickles
            raise TypeError(f"cannot save {key!r}: it is an object array; a checkpoint holds numeric arrays only")
    # UTF-8 bytes (dtype S), not a str array: NumPy stores str as 4 bytes a character
    arrays["meta.json"] = np.array(json.dumps(_jsonable(meta, "meta")).encode())
    _write_atomically(path, arrays)
    return path


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write to a temporary file beside the target, fsync it, then os.replace it onto the target:
    a reader (or a crash) sees the old file or the new one, never half of one."""
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot save checkpoint {path}: directory {directory} does not exist")
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644  # mkstemp makes 0600 files
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:  # also KeyboardInterrupt: never leave the temporary file behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (not possible on every OS)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def load_checkpoint(
    path: str | os.PathLike, model: Module, optimizer: Optimizer | None = None, scheduler: LRScheduler | None = None,
    loader: Any = None, *, restore_rng: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Load a checkpoint into model (and optimizer, scheduler, loader's generator; tinytorch's RNG
    unless restore_rng=False) and return its meta data (epoch, step, history, extra, ...).
    Everything is checked before the model changes; on a mismatch nothing is left half loaded."""
    path = Path(path)
    arrays, meta = _read(path)
    if optimizer is not None:
        _expect(meta, "optimizer", optimizer, path)
    if scheduler is not None:
        _expect(meta, "scheduler", scheduler, path)

    before = {k: v.data.copy() for k, v in model.state_dict().items()}
    try:
        model.load_state_dict({k.removeprefix("model/"): v for k, v in arrays.items() if k.startswith("model/")})
    except RuntimeError as e:  # load_state_dict names the missing, unexpected and mis-shaped keys
        raise CheckpointError(f"checkpoint {path} does not fit the model: {e}") from None
    try:
        if optimizer is not None:
            _load_optimizer(optimizer, meta["optimizer"], arrays, path)
    except BaseException:
        model.load_state_dict(before)
        raise
    if scheduler is not None:
        state = meta["scheduler"]["state"]
        scheduler.load_state_dict(_like(state, scheduler.state_dict()))

    if restore_rng:
        set_rng_state(meta["rng_state"])
    generator = getattr(loader, "generator", None)
    if meta.get("loader_rng_state") is not None and hasattr(generator, "bit_generator"):
        generator.bit_generator.state = meta["loader_rng_state"]
    return meta


def _read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """All arrays and the parsed meta.json, or an error naming the file and what is wrong with it."""
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        npz = np.load(path, allow_pickle=False)
    except _READ_ERRORS as e:
        raise CheckpointError(f"{path} is not a tinytorch checkpoint: it is not a readable .npz file ({e})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise CheckpointError(f"{path} is not a tinytorch checkpoint: it holds one array (.npy), not an .npz archive")
    with npz:
        if "meta.json" not in npz.files:
            raise CheckpointError(f"{path} is an .npz file but not a tinytorch checkpoint: it has no meta.json entry")
        try:
            arrays = {key: npz[key] for key in npz.files}
        except _READ_ERRORS as e:
            raise CheckpointError(f"checkpoint {path} is damaged (truncated or corrupted): {e}") from None
    try:
        text = arrays.pop("meta.json").item()
        meta = json.loads(text.decode() if isinstance(text, bytes) else text)
    except ValueError as e:  # also UnicodeDecodeError
        raise CheckpointError(f"checkpoint {path} is damaged: its meta.json is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a tinytorch checkpoint: meta.json lacks format {FORMAT!r}")
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {meta['version']}; this tinytorch reads up to version {VERSION} (upgrade it)"
        )
    return arrays, meta


def _expect(meta: dict[str, Any], what: str, obj: Any, path: Path) -> None:
    """The checkpoint must hold state for `what`, saved from the same class."""
    saved = meta.get(what)
    if saved is None:
        raise CheckpointError(f"checkpoint {path} holds no {what} state (it was saved without a {what})")
    if saved["class"] != type(obj).__name__:
        raise CheckpointError(f"checkpoint {path} holds the state of a {saved['class']} {what}, not of a {type(obj).__name__}")


def _load_optimizer(optimizer: Optimizer, saved: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
    """Rebuild Optimizer.state_dict() from the JSON scalars and the optimizer/state/* arrays."""
    state: dict[int, dict[str, Any]] = {int(i): dict(values) for i, values in saved["state"].items()}
    for key, array in arrays.items():
        if key.startswith("optimizer/state/"):
            index, name = key.removeprefix("optimizer/state/").split("/", 1)
            state.setdefault(int(index), {})[name] = array
    # JSON turned tuples (Adam's betas) into lists: give the groups back the types they have here
    groups = [_like(saved_group, own) for saved_group, own in zip(saved["param_groups"], optimizer.param_groups)]
    groups += saved["param_groups"][len(groups) :]  # a count mismatch is reported by load_state_dict
    n_params = sum(len(g["params"]) for g in optimizer.param_groups)
    if any(i >= n_params for i in state):
        raise CheckpointError(f"checkpoint {path} does not fit the optimizer: it has state for parameter {max(state)}, the optimizer {n_params} parameters")  # fmt: skip
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"checkpoint {path} does not fit the optimizer: {e}") from None


def _data(value: Any) -> np.ndarray:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def _jsonable(obj: Any, where: str) -> Any:
    """obj as JSON data (numpy scalars to Python, tuples to lists), or a TypeError naming the entry."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray) and obj.size <= 64 and not obj.dtype.hasobject:
        return obj.tolist()
    raise TypeError(f"cannot save {where} in a checkpoint: a {type(obj).__name__} is not JSON data")


def _like(value: Any, template: Any) -> Any:
    """value (from JSON) with tuples where template has tuples, recursively (lists stay lists)."""
    if isinstance(template, dict) and isinstance(value, dict):
        return {k: _like(v, template[k]) if k in template else v for k, v in value.items()}
    if isinstance(template, (list, tuple)) and isinstance(value, list):
        items = [_like(v, t) for v, t in zip(value, template)] if len(value) == len(template) else value
        return tuple(items) if isinstance(template, tuple) else items
    return value
