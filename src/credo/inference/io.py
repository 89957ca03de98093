"""Saving and loading approximations: atomic, without pickle, checked before anything large is read.

An approximation is written as one ``.npz`` file holding plain numeric
arrays (variational parameters, the frame, the optimiser state's leaves,
step, key, loss history) and a JSON document, stored as a byte array,
describing them: the model's free variables (names, shapes, transforms,
layout), the Gaussian family, the optimiser state's tree (leaf shapes and
dtypes), and the credo version.

Saving is atomic: the file is written under a temporary name in the same
folder, flushed to disk, then renamed over the target, so a crash, a kill
or a full disk during a save leaves the previous file intact. The temporary
name holds the host and process id (``.fit.npz.<host>.<pid>.<random>.tmp``):
a process killed during a save (``kill -9``, a lost node) leaves its
temporary file behind, and the next save to that path on that host removes
the ones whose process is gone.

Loading reads the file with ``allow_pickle=False``, so it never runs code
from it; it reads the metadata first, checks them against the model and
checks every member's declared size against what the model needs before
reading it (a corrupted or malicious archive is refused without being
unpacked), and refuses non-finite parameters. Every problem is an
:class:`ApproximationFileError` naming the file and what is wrong.

A saved file takes ``4 * (1 + w) * p`` bytes for ``p`` variational
parameters (``2 * d`` for a mean-field fit of ``d`` model parameters,
``d + d**2`` for a full-rank one) and an optimiser keeping ``w`` arrays per
parameter (10 for windowed adagrad's window, 2 for Adam), plus 4 bytes per
step of loss history and about 3 kB of metadata: 88 bytes per model
parameter for a default mean-field fit, 24 with Adam (measured).

NUTS results are arviz InferenceData: save them with
``idata.to_netcdf(path)`` and read them with ``arviz.from_netcdf(path)``.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._version import __version__
from ..model.arrays import float_dtype
from ..model.placement import is_main_process
from ..errors import CredoError
from .advi import ADVIState, Frame
from .methods import method_from_label
from .optimizers import Optimizer, as_optimizer

__all__ = ["write_arrays", "save_approximation", "read_fields", "read_metadata", "describe_variables",
           "write_with_metadata", "read_checked", "ApproximationFileError"]

FORMAT = "credo.approximation"
FORMAT_VERSION = 2
_METADATA = "__metadata__"
#: Largest metadata document read (bytes).
_METADATA_LIMIT = 1 << 22
#: Bytes allowed for an .npy header beyond an array's data.
_HEADER_ALLOWANCE = 4096


class ApproximationFileError(CredoError, ValueError):
    """A saved approximation cannot be read, or does not fit the model."""


# --- writing --------------------------------------------------------------------------------

def write_arrays(path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to exactly ``path`` as ``.npz``, atomically (see the module doc).

    With several processes (:mod:`credo.distributed`) only process 0 writes: every process holds the same
    result, and one file is written once.
    """
    if not is_main_process():
        return
    path = Path(os.fspath(path))
    folder = path.parent if str(path.parent) else Path(".")
    prefix = f".{path.name}.{_host()}."
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=f"{prefix}{os.getpid()}.", suffix=".tmp", delete=False)
    try:
        with handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        try:
            os.unlink(handle.name)
        except OSError:
            pass
        raise
    _remove_orphans(folder, prefix)
    try:  # make the rename itself durable
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - a platform without directory descriptors
        return
    try:
        os.fsync(descriptor)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(descriptor)


def _host() -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname()) or "host"


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def _remove_orphans(folder: Path, prefix: str) -> None:
    """Remove the temporary files ``prefix<pid>.*.tmp`` of saves whose process died before renaming them."""
    try:
        names = [name for name in os.listdir(folder) if name.startswith(prefix) and name.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and _process_gone(int(pid)):
            try:
                os.unlink(folder / name)
            except OSError:
                pass


def _flatten(tree: dict, prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}.{name}": np.asarray(value) for name, value in tree.items()}


def save_approximation(approx, path, checkpoint: dict | None = None) -> None:
    """Write ``approx`` to ``path`` as ``.npz`` (see the module doc and :meth:`credo.Approximation.save`);
    ``checkpoint``, the settings of the fit that writes it as a checkpoint, goes into the metadata."""
    state = jax.device_get(approx.state)
    arrays = _flatten(state.params, "params")
    if state.frame is not None:
        arrays.update(_flatten(state.frame._asdict(), "frame"))
    leaves, treedef = jax.tree_util.tree_flatten(state.opt_state)
    arrays.update({f"opt.{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)})
    arrays["step"] = np.asarray(state.step)
    arrays["key"] = np.asarray(jax.random.key_data(approx.key))
    arrays["hist"] = np.asarray(approx.hist, np.float32)
    info = approx.info
    if info.start_losses is not None:
        arrays["start_losses"] = np.asarray(info.start_losses)
    settings = approx.settings
    default = as_optimizer(None, approx.family.default_optimizer)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "credo_version": __version__,
        "family": approx.family.label,
        "num_mc": int(settings.num_mc),
        "chunk_size": int(settings.chunk_size),
        "num_steps": int(state.step),
        "key_impl": str(jax.random.key_impl(approx.key)),
        "variables": describe_variables(approx.model.compile()),
        "params": {name: list(np.shape(value)) for name, value in state.params.items()},
        "frame": state.frame is not None,
        "optimizer": {
            "kind": "default" if settings.optimizer == default else "custom",
            "leaves": [{"shape": list(np.shape(leaf)), "dtype": str(np.asarray(leaf).dtype)} for leaf in leaves],
            "treedef": str(treedef),
        },
        "best_start": info.best_start,
        "stop_reason": info.stop_reason,
        "checkpoint": checkpoint,
    }
    arrays[_METADATA] = np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8)
    write_arrays(path, arrays)


def describe_variables(compiled) -> list[dict]:
    """The layout of a model's free variables, as saved files record it."""
    return [
        {"name": info.name, "shape": list(info.shape), "unconstrained_shape": list(info.unconstrained_shape),
         "offset": info.offset, "size": info.size, "transform": info.transform}
        for info in compiled.free
    ]


# --- reading ---------------------------------------------------------------------------------

def _open(path) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    try:
        archive = zipfile.ZipFile(os.fspath(path))
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise ApproximationFileError(f"{path}: is a folder, not a credo approximation file.") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, struct.error,
            UnicodeDecodeError) as error:
        raise ApproximationFileError(f"{path}: not a credo approximation file ({error}).") from None
    members = {}
    for info in archive.infolist():
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        members[name] = info
    return archive, members


def _read_member(path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> np.ndarray:
    """One ``.npy`` member, read only after its declared sizes passed: the zip entry's size against
    ``limit`` bytes, then the array header's shape and dtype (before any data is read or allocated)."""
    name = info.filename[:-4]
    if info.file_size > limit:
        raise ApproximationFileError(f"{path}: the entry {name!r} declares {info.file_size} bytes where this model "
                                     f"needs at most {limit}; refused without reading it.")
    try:
        with archive.open(info) as handle:
            shape, fortran_order, dtype = _read_header(path, name, handle)
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if nbytes > limit:
                raise ApproximationFileError(f"{path}: the entry {name!r} declares an array of {nbytes} bytes where "
                                             f"this model needs at most {limit}; refused without reading it.")
            raw = handle.read(nbytes)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError, NotImplementedError, zlib.error,
            struct.error) as error:  # a corrupted member
        raise ApproximationFileError(f"{path}: the entry {name!r} is corrupted ({error}).") from None
    if len(raw) != nbytes:
        raise ApproximationFileError(f"{path}: the entry {name!r} is truncated ({len(raw)} of {nbytes} bytes).")
    return np.frombuffer(raw, dtype).reshape(shape, order="F" if fortran_order else "C").copy()


def _read_header(path, name: str, handle) -> tuple[tuple, bool, np.dtype]:
    """The shape, order and dtype an ``.npy`` header declares; objects (pickles) and non-numbers are refused."""
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(handle)
    except (ValueError, SyntaxError, TypeError, KeyError, struct.error) as error:
        raise ApproximationFileError(f"{path}: the entry {name!r} is not a numeric array ({error}).") from None
    if dtype.hasobject:
        raise ApproximationFileError(
            f"{path}: the entry {name!r} holds pickled Python objects; credo never unpickles (that could "
            "run code from the file), so this file is refused. Approximations written by approx.save() "
            "hold numeric arrays only."
        )
    if not (np.issubdtype(dtype, np.number) or dtype == bool) or dtype.itemsize == 0:
        raise ApproximationFileError(f"{path}: the entry {name!r} has dtype {dtype}, not numbers; refused.")
    if not all(isinstance(size, int) and size >= 0 for size in shape):
        raise ApproximationFileError(f"{path}: the entry {name!r} declares the shape {shape}; refused.")
    return tuple(shape), bool(fortran_order), dtype


def _json_metadata(path, archive, members, writer: str = "approx.save()") -> dict:
    info = members.get(_METADATA)
    if info is None:
        raise ApproximationFileError(f"{path}: no credo metadata: not a file written by {writer}.")
    raw = _read_member(path, archive, info, _METADATA_LIMIT)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ApproximationFileError(f"{path}: no credo metadata: not a file written by {writer}.")
    try:
        metadata = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ApproximationFileError(f"{path}: its metadata are not valid JSON ({error}).") from None
    if not isinstance(metadata, dict):
        raise ApproximationFileError(f"{path}: not a file written by {writer}.")
    return metadata


def write_with_metadata(path, arrays: dict[str, np.ndarray], metadata: dict) -> None:
    """Write ``arrays`` and the JSON document ``metadata`` to ``path`` atomically (see :func:`write_arrays`)."""
    arrays = dict(arrays)
    arrays[_METADATA] = np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8)
    write_arrays(path, arrays)


def read_checked(path, file_format: str, writer: str, expected_fn) -> tuple[dict, dict[str, np.ndarray]]:
    """``(metadata, arrays)`` of a file written by :func:`write_with_metadata` with ``format ==
    file_format``; ``expected_fn(metadata)`` gives ``{name: (shape, dtype)}`` of every array to read (each
    checked before it is read, as approximations are). Problems raise :class:`ApproximationFileError`."""
    archive, members = _open(path)
    with archive:
        metadata = _json_metadata(path, archive, members, writer)
        if metadata.get("format") != file_format:
            raise ApproximationFileError(f"{path}: not a file written by {writer}.")
        arrays = {}
        for name, (shape, dtype) in expected_fn(metadata).items():
            info = members.get(name)
            if info is None:
                raise ApproximationFileError(f"{path}: the entry {name!r} is missing.")
            size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            value = _read_member(path, archive, info, max(size, 8) + _HEADER_ALLOWANCE)
            if tuple(value.shape) != tuple(shape):
                raise ApproximationFileError(f"{path}: the entry {name!r} has shape {tuple(value.shape)}; "
                                             f"expected {tuple(shape)}.")
            if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)) and \
                    not name.startswith("stats."):
                raise ApproximationFileError(f"{path}: the entry {name!r} holds NaN or inf; refused.")
            arrays[name] = value.astype(dtype, copy=False)
    return metadata, arrays


def _metadata(path, archive, members) -> dict:
    metadata = _json_metadata(path, archive, members)
    if metadata.get("format") != FORMAT:
        raise ApproximationFileError(f"{path}: not a credo approximation file.")
    if metadata.get("format_version") not in (1, FORMAT_VERSION):
        raise ApproximationFileError(f"{path}: file format version {metadata.get('format_version')}; this credo "
                                     f"reads versions 1 and {FORMAT_VERSION}.")
    if metadata["format_version"] == 1:  # the frame was an entry of the parameters
        metadata["frame"] = bool(metadata.get("whitened"))
        metadata["params"] = {k: v for k, v in metadata.get("params", {}).items() if k != "frame"}
    for field in ("num_mc", "chunk_size"):
        value = metadata.get(field)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 1 << 30:
            raise ApproximationFileError(f"{path}: the metadata field {field!r} is {value!r}; it must be a positive "
                                         "integer.")
    for field in ("family", "key_impl"):
        if not isinstance(metadata.get(field), str):
            raise ApproximationFileError(f"{path}: the metadata field {field!r} is missing or not a string.")
    if not isinstance(metadata.get("variables"), list) or not isinstance(metadata.get("optimizer"), dict) or \
            not all(isinstance(v, dict) for v in metadata["variables"]):
        raise ApproximationFileError(f"{path}: the metadata do not describe the variables and the optimiser.")
    for field, kinds, what in (("best_start", (int, type(None)), "an integer"),
                               ("stop_reason", (str, type(None)), "a string"),
                               ("checkpoint", (dict, type(None)), "a record of fit settings")):
        value = metadata.get(field)
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise ApproximationFileError(f"{path}: the metadata field {field!r} is {value!r}; it must be {what}.")
    return metadata


def _check_variables(path, saved: list, current: list) -> None:
    saved_names = [v.get("name") if isinstance(v, dict) else v for v in saved]
    current_names = [v["name"] for v in current]
    if saved_names != current_names:
        raise ApproximationFileError(
            f"{path} was fitted to a model with the free variables {saved_names}; this model has {current_names}."
        )
    for old, new in zip(saved, current):
        for field, what in (("shape", "shape"), ("unconstrained_shape", "unconstrained shape"),
                            ("transform", "transform"), ("offset", "position in the parameter vector")):
            if old.get(field) != new[field]:
                fmt = (lambda v: tuple(v)) if isinstance(new[field], list) else (lambda v: v)
                found = old.get(field)
                raise ApproximationFileError(
                    f"{path}: the free variable {old['name']!r} had {what} "
                    f"{fmt(found) if isinstance(found, list) else found} in the saved fit; in this model it has "
                    f"{fmt(new[field])}."
                )


def _expected(path, arrays_needed: dict, archive, members, what: str) -> dict:
    """Read the members named in ``arrays_needed`` (name -> template array), checked against the templates."""
    out = {}
    for name, reference in arrays_needed.items():
        info = members.get(name)
        if info is None:
            raise ApproximationFileError(f"{path}: the entry {name!r} ({what}) is missing.")
        size = int(np.prod(reference.shape, dtype=np.int64))
        value = _read_member(path, archive, info, 8 * max(size, 1) + _HEADER_ALLOWANCE)
        if tuple(value.shape) != tuple(reference.shape):
            raise ApproximationFileError(
                f"{path}: the {what} entry {name.split('.', 1)[-1]!r} has shape {tuple(value.shape)}; this model "
                f"needs {tuple(reference.shape)}."
            )
        out[name] = value
    return out


def read_metadata(path) -> dict:
    """The checked metadata of a saved approximation (no array is read)."""
    archive, members = _open(path)
    with archive:
        return _metadata(path, archive, members)


def read_fields(path, model, optimizer=None) -> dict[str, Any]:
    """Everything :class:`~credo.inference.approximation.Approximation` needs, read from ``path``.

    Returns a dict with ``family``, ``state``, ``key``, ``hist``,
    ``optimizer`` (an :class:`~credo.inference.optimizers.Optimizer` or None), ``num_mc``,
    ``chunk_size``, ``start_losses``, ``best_start`` and ``stop_reason``.
    """
    archive, members = _open(path)
    with archive:
        metadata = _metadata(path, archive, members)
        compiled = model.compile()
        _check_variables(path, metadata["variables"], describe_variables(compiled))
        try:
            family = method_from_label(metadata["family"])
        except (ValueError, CredoError) as error:
            raise ApproximationFileError(f"{path}: {error}") from None
        if optimizer is None and metadata["optimizer"].get("kind") == "default":
            optimizer = as_optimizer(None, family.default_optimizer)
        elif optimizer is not None:
            try:
                optimizer = as_optimizer(optimizer, family.default_optimizer)
            except CredoError as error:
                raise ApproximationFileError(f"optimizer: {error}") from None
        template = _template(compiled, family, optimizer, bool(metadata.get("frame")))
        frame_prefix = "frame" if metadata["format_version"] > 1 else "params.frame"
        params = _expected(path, {f"params.{k}": v for k, v in template.params.items()}, archive, members,
                           "variational parameters")
        params = {k.split(".", 1)[1]: v for k, v in params.items()}
        frame = None
        if template.frame is not None:
            found = _expected(path, {f"{frame_prefix}.{k}": v for k, v in template.frame._asdict().items()},
                              archive, members, "frame")
            frame = Frame(*(found[f"{frame_prefix}.{k}"] for k in Frame._fields))
        _check_finite(path, params, frame)
        opt_state = _optimizer_state(path, archive, members, optimizer, template)
        step = int(_expected(path, {"step": np.zeros((), np.int32)}, archive, members, "step count")["step"])
        if step < 0:
            raise ApproximationFileError(f"{path}: the step count is {step}.")
        if "key" not in members:
            raise ApproximationFileError(f"{path}: the entry 'key' is missing.")
        key_data = _read_member(path, archive, members["key"], 1024)
        try:
            key = jax.random.wrap_key_data(jnp.asarray(key_data), impl=metadata["key_impl"])
        except Exception as error:  # noqa: BLE001 - any malformed key
            raise ApproximationFileError(f"{path}: the saved random key cannot be read ({error}).") from None
        if "hist" not in members:
            raise ApproximationFileError(f"{path}: the entry 'hist' is missing.")
        hist = _read_member(path, archive, members["hist"], 8 * (step + 1) + _HEADER_ALLOWANCE)
        start_losses = None
        if "start_losses" in members:
            start_losses = _read_member(path, archive, members["start_losses"], 8 * 4096 + _HEADER_ALLOWANCE)
    dtype = jnp.result_type(next(iter(template.params.values())))
    state = ADVIState({k: jnp.asarray(v, dtype) for k, v in params.items()}, opt_state,
                      jnp.asarray(step, jnp.int32),
                      None if frame is None else Frame(*(jnp.asarray(v, dtype) for v in frame)))
    return {"family": family, "state": state, "key": key, "hist": np.asarray(hist, np.float32),
            "optimizer": optimizer, "num_mc": int(metadata["num_mc"]), "chunk_size": int(metadata["chunk_size"]),
            "start_losses": start_losses, "best_start": metadata.get("best_start"),
            "stop_reason": metadata.get("stop_reason"), "checkpoint": metadata.get("checkpoint")}


def _template(compiled, family, optimizer: Optimizer | None, framed: bool) -> ADVIState:
    """The state's structure, shapes and dtypes for this model, family and optimiser (no compile)."""
    transformation = optimizer.transformation if optimizer is not None else optax.identity()
    algorithm = family.algorithm(compiled.logdensity_fn, transformation, 1)
    position = jax.ShapeDtypeStruct((compiled.dim,), float_dtype())
    return jax.eval_shape(lambda p: algorithm.init(p, whiten=framed), position)


def _check_finite(path, params: dict, frame) -> None:
    arrays = dict(params, **({} if frame is None else frame._asdict()))
    for name, value in arrays.items():
        if not np.all(np.isfinite(value)):
            raise ApproximationFileError(f"{path}: the saved parameter {name!r} holds NaN or inf; refused.")


def _optimizer_state(path, archive, members, optimizer: Optimizer | None, template: ADVIState):
    saved = sorted((int(name[4:]) for name in members if name.startswith("opt.") and name[4:].isdigit()))
    if saved != list(range(len(saved))):
        raise ApproximationFileError(f"{path}: the optimiser state's entries are not numbered 0..n-1.")
    if optimizer is None:
        return None
    reference, treedef = jax.tree_util.tree_flatten(template.opt_state)
    if len(reference) != len(saved):
        raise ApproximationFileError(
            f"{path}: the saved optimiser state has {len(saved)} arrays; the optimiser given has {len(reference)}: "
            "pass the optimiser the fit used."
        )
    leaves = []
    for k, ref in enumerate(reference):
        leaf = _read_member(path, archive, members[f"opt.{k}"], 8 * max(int(np.prod(ref.shape)), 1)
                            + _HEADER_ALLOWANCE)
        if tuple(leaf.shape) != tuple(ref.shape):
            raise ApproximationFileError(
                f"{path}: optimiser state array {k} has shape {tuple(leaf.shape)}; the optimiser given needs "
                f"{tuple(ref.shape)}: pass the optimiser the fit used."
            )
        leaves.append(jnp.asarray(leaf, dtype=ref.dtype))
    return jax.tree_util.tree_unflatten(treedef, leaves)
