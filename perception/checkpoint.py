"""Training checkpoints: atomic writes, ``weights_only`` loads, and clear mismatch errors.

A checkpoint is a dict of tensors, ints, floats, strings, None, lists and dicts only, so it loads
with ``torch.load(path, weights_only=True)`` (no pickled code). Keys:

- ``format`` (``"perception-checkpoint"``), ``version`` (int)
- ``config``: the whole configuration as a plain dict (``perception.config.config_to_dict``)
- ``model``: the model ``state_dict``
- ``step``, ``epoch``, ``batch_in_epoch``: position of the run (optimisation steps done, current
  epoch, batches of that epoch consumed)
- ``optimizer``, ``scheduler``, ``scaler``, ``strategy``: their ``state_dict()``
- ``rng``: :func:`perception.train.rng.capture_rng_state`
- ``bad_steps``: ``{"total": int, "consecutive": int}`` non-finite steps skipped
- ``world_size``: processes that wrote it (the global batch is ``world_size * batch_size``)
"""
from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sensors.atomic import atomic_path

CHECKPOINT_FORMAT = "perception-checkpoint"
CHECKPOINT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model/config; the message is one line."""


def save_checkpoint(state: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically: a temp file in the same folder, then ``os.replace``.

    Tensors are written on the CPU, so that a checkpoint trained on a GPU loads anywhere with a plain
    ``torch.load(path, weights_only=True)``. If writing fails (full disk, crash, exception), the
    previous file at ``path`` is left intact and the temp file is removed; a temp file left by a
    killed process is removed by :func:`sensors.atomic.remove_stale_temporaries` when the next
    run starts.

    Raises:
        OSError: the file cannot be written (full disk, permissions), naming ``path``.
    """
    path = Path(path)
    payload = _to_cpu({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **state})
    try:
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
    except OSError as error:
        reason = error.strerror or _first_line(error)
        raise type(error)(error.errno, f"cannot write checkpoint ({reason}); the previous one is intact", str(path)) from None
    except RuntimeError as error:  # torch's zip writer reports a failed write (full disk) this way
        raise OSError(f"{path}: cannot write checkpoint ({_first_line(error)}); the previous one is intact") from None
    return path


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporary checkpoint files (``.<name>.<random>.tmp.pt``) that a killed run left in ``folder``.

    :func:`save_checkpoint` removes its temporary file on any exception, but a process killed
    outright (SIGKILL, OOM killer, power cut) cannot; the next run of the same folder calls this
    before it writes (one writer per run folder). Returns the removed files.
    """
    folder = Path(folder)
    stale = sorted(folder.glob(".*.tmp.pt")) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _to_cpu(value: Any) -> Any:
    """``value`` with every tensor nested in dicts and lists moved to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, Mapping):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


def load_checkpoint(
    path: str | Path,
    model: nn.Module | None = None,
    config: Mapping[str, Any] | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; optionally check it and load it into ``model``.

    Args:
        path: checkpoint file.
        model: if given, its ``state_dict`` must have exactly the checkpoint's keys and shapes; the
            weights are then loaded into it.
        config: if given (a plain dict, ``config_to_dict(cfg)``), its ``model`` section must equal
            the checkpoint's.
        map_location: where tensors are loaded.

    Raises:
        CheckpointError: missing file (or a folder), truncated or corrupted file, not a checkpoint
            of this project, weights with NaN or Inf, or a mismatch; the message names the file and
            the first offending key (with shapes).
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, expected a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message advises loading with weights_only=False, which runs arbitrary code
        # from the file: never passed on.
        raise CheckpointError(
            f"{path}: cannot read checkpoint: not plain tensors and numbers (truncated, corrupted, or holding "
            "pickled Python objects, which are never loaded)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - whatever torch raises on a foreign or damaged file
        reason = _first_line(exc)
        # torch's messages may advise weights_only=False (never passed on) or be a bare key ("101")
        reason = type(exc).__name__ if "weights_only" in reason else f"{type(exc).__name__}: {reason}"
        raise CheckpointError(f"{path}: cannot read checkpoint (truncated or corrupted?): {reason}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a perception checkpoint (no format={CHECKPOINT_FORMAT!r} key)")
    if state.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {state.get('version')} is not supported (expected {CHECKPOINT_VERSION})"
        )
    if config is not None:
        mismatch = first_config_mismatch(_with_defaults(state.get("config", {})).get("model", {}),
                                         config.get("model", {}), "model")
        if mismatch is not None:
            raise CheckpointError(f"{path}: checkpoint was trained with a different config: {mismatch}")
    check_finite(state.get("model"), path)
    if model is not None:
        mismatch = first_state_dict_mismatch(state["model"], model.state_dict())
        if mismatch is not None:
            raise CheckpointError(f"{path}: checkpoint does not fit the model: {mismatch}")
        model.load_state_dict(state["model"])
    return state


def trained_steps(path: str | Path, planned_steps: int) -> int | None:
    """Steps trained so far by the run whose checkpoint is ``path`` (None: no checkpoint yet), for a
    run planned for ``planned_steps`` steps (``train.steps``): finished when it reaches them, else
    resumable. What a rerun of the same command into the same folder relies on.

    Raises:
        CheckpointError: the checkpoint is unreadable, or its run was planned for another number
            of steps (its schedule differs: continuing or skipping it would mix two runs).
    """
    path = Path(path)
    if not path.is_file():
        return None
    saved = load_checkpoint(path)
    planned = int(saved["config"]["train"]["steps"])
    if planned != planned_steps:
        raise CheckpointError(f"{path}: a run planned for {planned} steps, this command plans {planned_steps}: "
                              "rerun with the same steps or use another output folder")
    return int(saved["step"])


def _with_defaults(stored: Any) -> Any:
    """A stored config with the keys added since it was written at their defaults (which keep the
    behaviour it was trained with, e.g. ``model.sharing``); unchanged when it does not validate."""
    from perception.config import ConfigError, config_from_dict, config_to_dict

    if not isinstance(stored, Mapping):
        return stored
    try:
        return config_to_dict(config_from_dict(dict(stored)))
    except ConfigError:
        return stored


def check_finite(weights: Any, path: str | Path) -> None:
    """Raise :class:`CheckpointError` naming ``path`` and the first tensor of ``weights`` with NaN or Inf.

    ``weights`` is the model ``state_dict`` of a checkpoint (a mapping of name -> tensor); a
    diverged run's weights would otherwise give NaN predictions without a word.
    """
    if not isinstance(weights, Mapping):
        raise CheckpointError(f"{path}: checkpoint has no model weights (key 'model' is not a mapping)")
    for key, value in weights.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            count = int((~torch.isfinite(value)).sum())
            raise CheckpointError(f"{path}: model weight {key!r} has {count} NaN or Inf values; refusing to use it")


def first_config_mismatch(stored: Any, current: Any, where: str) -> str | None:
    """The first dotted key whose value differs between two nested config dicts, as a sentence."""
    if isinstance(stored, Mapping) and isinstance(current, Mapping):
        for key in [*stored.keys(), *(k for k in current.keys() if k not in stored)]:
            dotted = f"{where}.{key}"
            if key not in current:
                return f"key {dotted} is in the checkpoint but not in the config"
            if key not in stored:
                return f"key {dotted} is in the config but not in the checkpoint"
            found = first_config_mismatch(stored[key], current[key], dotted)
            if found is not None:
                return found
        return None
    if stored != current:
        return f"key {where} is {stored!r} in the checkpoint but {current!r} in the config"
    return None


def first_state_dict_mismatch(stored: Mapping[str, torch.Tensor], current: Mapping[str, torch.Tensor]) -> str | None:
    """The first parameter/buffer key missing on either side or with different shapes, as a sentence."""
    for key, value in current.items():
        if key not in stored:
            return f"state_dict key {key!r} of the model is missing from the checkpoint"
        if tuple(stored[key].shape) != tuple(value.shape):
            return (
                f"state_dict key {key!r} has shape {tuple(stored[key].shape)} in the checkpoint "
                f"but {tuple(value.shape)} in the model"
            )
    for key in stored:
        if key not in current:
            return f"state_dict key {key!r} of the checkpoint does not exist in the model"
    return None


@dataclass(frozen=True)
class InitReport:
    """What :func:`load_initial_weights` took from a checkpoint.

    Attributes:
        loaded: model keys whose values came from the checkpoint.
        fresh: model keys left at their new initialisation (absent or of another shape there).
        unused: checkpoint keys the model does not have.
        warm: keys of ``fresh`` the model started from a part it had instead (its ``warm_start``,
            e.g. ``FusionModel.warm_start``).
    """

    loaded: tuple[str, ...]
    fresh: tuple[str, ...]
    unused: tuple[str, ...]
    warm: tuple[str, ...] = ()


def load_initial_weights(path: str | Path, model: nn.Module) -> InitReport:
    """Start ``model`` from a checkpoint's weights (fine-tuning, or a grown architecture).

    Every parameter and buffer whose name and shape match is copied; the others keep their fresh
    initialisation, except those the model's ``warm_start(fresh_keys)`` (where it has one) starts
    from a part it had (``FusionModel.warm_start``). Unlike :func:`load_checkpoint` the configs may differ; unlike ``--resume`` no
    optimizer, schedule or step is taken.

    Raises:
        CheckpointError: unreadable file, or not a single key fits the model.
    """
    state = load_checkpoint(path)["model"]
    current = model.state_dict()
    loaded = tuple(k for k, v in current.items() if k in state and tuple(state[k].shape) == tuple(v.shape))
    if not loaded:
        raise CheckpointError(f"{path}: no parameter of the checkpoint fits the model (names or shapes differ)")
    model.load_state_dict({k: state[k] for k in loaded}, strict=False)
    taken = set(loaded)
    fresh = tuple(k for k in current if k not in taken)
    warm_start = getattr(model, "warm_start", None)
    warm = tuple(warm_start(fresh)) if callable(warm_start) else ()
    return InitReport(loaded=loaded, fresh=fresh, unused=tuple(k for k in state if k not in current), warm=warm)


#: Keys an exported (inference-only) checkpoint keeps.
EXPORT_KEYS = ("format", "version", "config", "model", "step")


def export_weights(source: str | Path, destination: str | Path, provenance: Mapping[str, Any] | None = None) -> Path:
    """Write the inference part of a training checkpoint: config, weights and step.

    Optimizer, scheduler, scaler, strategy and RNG states are dropped (they triple the size of a
    checkpoint and only matter to ``--resume``); ``provenance`` (plain values: the command, seed,
    metrics...) is stored under ``"provenance"``. The result loads like any checkpoint.

    Raises:
        CheckpointError: ``source`` is not a readable checkpoint.
    """
    state = load_checkpoint(source)
    exported = {key: state[key] for key in EXPORT_KEYS if key in state}
    if provenance is not None:
        exported["provenance"] = dict(provenance)
    return save_checkpoint(exported, destination)
