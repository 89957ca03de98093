"""Saving and loading approximations without pickle.

An approximation is written as one ``.npz`` file holding plain numeric
arrays (variational parameters, the optimiser state's leaves, step, key,
loss history) and a JSON document, stored as a byte array, describing them:
the model's free variables (names, shapes, transforms, layout), the
Gaussian family, the optimiser state's tree (leaf shapes and dtypes), and
the credo version. Loading reads the file with ``allow_pickle=False``, so it
never runs code from it, and checks it against the model.

NUTS results are arviz InferenceData: save them with
``idata.to_netcdf(path)`` and read them with ``arviz.from_netcdf(path)``.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import CredoError
from ..model.compile import _distribution, _transform
from ..model.core import Model, modelcontext
from .advi import ADVIState, advi, family_from_name, trainable

__all__ = ["save_approximation", "load_approximation", "ApproximationFileError"]

FORMAT = "credo.approximation"
FORMAT_VERSION = 1
_METADATA = "__metadata__"


class ApproximationFileError(CredoError, ValueError):
    """A saved approximation cannot be read, or does not fit the model."""


# --- description of the model ------------------------------------------------------
def _describe_transform(transform) -> str:
    name = type(transform).__name__
    if name == "IndependentTransform":
        return _describe_transform(transform.base_transform)
    parts = getattr(transform, "parts", None)
    if parts:
        return f"{name}({','.join(_describe_transform(p) for p in parts)})"
    return name


def _variables(model: Model) -> list[dict]:
    compiled = model.compile()
    transforms = {}

    def probe(data):
        values, cache = compiled._base_values(data), {}
        for rv in compiled._free_rvs:
            d = _distribution(rv, values, cache)
            transforms[rv.name] = _describe_transform(_transform(d))
            values[rv.name] = jnp.zeros(rv.shape, rv.dtype)
        return jnp.zeros(())

    jax.eval_shape(probe, dict(model.data_values))
    return [
        {"name": info.name, "shape": list(info.shape), "unconstrained_shape": list(info.unconstrained_shape),
         "offset": info.offset, "size": info.size, "transform": transforms[info.name]}
        for info in compiled.free
    ]


def _flatten_params(params: dict, prefix: str = "params") -> dict[str, np.ndarray]:
    out = {}
    for name, value in params.items():
        if isinstance(value, dict):
            out.update(_flatten_params(value, f"{prefix}.{name}"))
        else:
            out[f"{prefix}.{name}"] = np.asarray(value)
    return out


def _unflatten_params(arrays: dict, prefix: str = "params") -> dict:
    params: dict = {}
    for key, value in arrays.items():
        if not key.startswith(prefix + "."):
            continue
        parts = key[len(prefix) + 1:].split(".")
        target = params
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return params


def _shapes(tree) -> dict:
    return {k: _shapes(v) if isinstance(v, dict) else list(np.shape(v)) for k, v in tree.items()}


# --- saving ---------------------------------------------------------------------------
def save_approximation(approx, path) -> None:
    """Write ``approx`` to ``path`` as ``.npz`` (see the module doc and :meth:`Approximation.save`)."""
    from .. import __version__
    from .fit import default_optimizer

    state = approx.state
    arrays = _flatten_params(jax.device_get(state.params))
    leaves, treedef = jax.tree_util.tree_flatten(jax.device_get(state.opt_state))
    for i, leaf in enumerate(leaves):
        arrays[f"opt.{i}"] = np.asarray(leaf)
    arrays["step"] = np.asarray(state.step)
    arrays["key"] = np.asarray(jax.random.key_data(approx.key))
    arrays["hist"] = np.asarray(approx.hist)
    if approx.start_losses is not None:
        arrays["start_losses"] = np.asarray(approx.start_losses)
    optimizer_kind = "default" if approx.optimizer is default_optimizer(approx.family.name) else "custom"
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "credo_version": __version__,
        "family": approx.family.name,
        "whitened": "frame" in state.params,
        "num_mc": int(approx.num_mc),
        "chunk_size": int(approx.chunk_size),
        "key_impl": str(jax.random.key_impl(approx.key)),
        "variables": _variables(approx.model),
        "params": _shapes(jax.device_get(state.params)),
        "optimizer": {
            "kind": optimizer_kind,
            "leaves": [{"shape": list(np.shape(leaf)), "dtype": str(np.asarray(leaf).dtype)} for leaf in leaves],
            "treedef": str(treedef),
        },
        "best_start": approx.best_start,
        "stop_reason": approx.stop_reason,
    }
    for name, value in arrays.items():
        if value.dtype == object:  # pragma: no cover - every array above is numeric
            raise ApproximationFileError(f"cannot save {name!r}: it is not a numeric array.")
    arrays[_METADATA] = np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8)
    with open(os.fspath(path), "wb") as handle:  # exactly this path (np.savez would add ".npz")
        np.savez(handle, **arrays)


# --- loading ----------------------------------------------------------------------------
def _read(path) -> dict[str, np.ndarray]:
    try:
        npz = np.load(os.fspath(path), allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise ApproximationFileError(f"{path}: not a credo approximation file ({error}).") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ApproximationFileError(f"{path}: not a credo approximation file (a single array, not an .npz archive).")
    arrays = {}
    with npz:
        for name in npz.files:
            try:
                arrays[name] = npz[name]
            except ValueError:
                raise ApproximationFileError(
                    f"{path}: the entry {name!r} holds pickled Python objects; credo never unpickles (that could "
                    "run code from the file), so this file is refused. Approximations written by approx.save() "
                    "hold numeric arrays only."
                ) from None
    for name, value in arrays.items():
        if not (np.issubdtype(value.dtype, np.number) or value.dtype == bool):
            raise ApproximationFileError(f"{path}: the entry {name!r} has dtype {value.dtype}, not numbers; refused.")
    return arrays


def _metadata(path, arrays: dict) -> dict:
    raw = arrays.pop(_METADATA, None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise ApproximationFileError(f"{path}: no credo metadata: not a file written by approx.save().")
    try:
        metadata = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ApproximationFileError(f"{path}: its metadata are not valid JSON ({error}).") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ApproximationFileError(f"{path}: not a credo approximation file.")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ApproximationFileError(f"{path}: file format version {metadata.get('format_version')}; this credo "
                                     f"reads version {FORMAT_VERSION}.")
    return metadata


def _check_variables(path, saved: list, current: list) -> None:
    saved_names = [v["name"] for v in saved]
    current_names = [v["name"] for v in current]
    if saved_names != current_names:
        raise ApproximationFileError(
            f"{path} was fitted to a model with the free variables {saved_names}; this model has {current_names}."
        )
    for old, new in zip(saved, current):
        for field, what in (("shape", "shape"), ("unconstrained_shape", "unconstrained shape"),
                            ("transform", "transform"), ("offset", "position in the parameter vector")):
            if old[field] != new[field]:
                fmt = (lambda v: tuple(v)) if isinstance(old[field], list) else (lambda v: v)
                raise ApproximationFileError(
                    f"{path}: the free variable {old['name']!r} had {what} {fmt(old[field])} in the saved fit; in "
                    f"this model it has {fmt(new[field])}."
                )


def _check_tree(path, what: str, loaded: dict, template: dict) -> dict:
    """``loaded`` with the structure, shapes and dtypes of ``template`` (a clear error otherwise)."""
    if set(loaded) != set(template):
        raise ApproximationFileError(f"{path}: the {what} have entries {sorted(loaded)}; expected {sorted(template)}.")
    out = {}
    for name, reference in template.items():
        value = loaded[name]
        if isinstance(reference, dict):
            if not isinstance(value, dict):
                raise ApproximationFileError(f"{path}: the {what} entry {name!r} should hold {sorted(reference)}.")
            out[name] = _check_tree(path, what, value, reference)
            continue
        if isinstance(value, dict) or tuple(value.shape) != tuple(np.shape(reference)):
            shape = "a group" if isinstance(value, dict) else tuple(value.shape)
            raise ApproximationFileError(
                f"{path}: the {what} entry {name!r} has shape {shape}; this model needs {tuple(np.shape(reference))}."
            )
        out[name] = jnp.asarray(value, dtype=jnp.result_type(reference))
    return out


def load_approximation(path, model: Model | None = None, optimizer=None):
    """Read an approximation written by ``approx.save(path)`` for ``model``.

    Parameters
    ----------
    path : str or path-like
    model : credo.Model, optional
        The model it was fitted to (default: the current context). Its free
        variables must have the saved names, shapes and transforms.
    optimizer : optax.GradientTransformation, optional
        The optimiser to continue with. Fits with the default optimiser need
        none; for a custom one pass the same optimiser: its state is checked
        leaf by leaf against ``optimizer.init(params)``. Without it the loaded
        approximation samples and predicts but cannot ``refine``.

    Returns
    -------
    Approximation
        Samples, predicts and refines like the original (same draws for the
        same seed; ``refine(n)`` continues exactly).

    Raises
    ------
    ApproximationFileError
        (a ``ValueError``) for a file that is not a credo approximation,
        holds pickled objects, or does not fit the model.
    """
    import optax

    from ..data import minibatch_fn
    from .approximation import Approximation
    from .fit import default_optimizer

    model = modelcontext(model, what="load_approximation")
    arrays = _read(path)
    metadata = _metadata(path, arrays)
    compiled = model.compile()
    _check_variables(path, metadata["variables"], _variables(model))
    try:
        family = family_from_name(metadata["family"])
    except (ValueError, KeyError) as error:
        raise ApproximationFileError(f"{path}: {error}") from None
    if optimizer is None and metadata["optimizer"]["kind"] == "default":
        optimizer = default_optimizer(family.name)
    if optimizer is not None and not isinstance(optimizer, optax.GradientTransformation):
        raise ApproximationFileError(f"optimizer must be an optax.GradientTransformation; got {type(optimizer).__name__}.")
    num_mc = int(metadata["num_mc"])
    # The parameters' structure and shapes for this model and family.
    template_algorithm = advi(compiled.logdensity_fn, family, optimizer if optimizer is not None else optax.identity(), num_mc)
    template = template_algorithm.init(compiled.initial_position(), whiten=bool(metadata["whitened"]))
    params = _check_tree(path, "variational parameters", _unflatten_params(arrays), template.params)
    saved_leaves = []
    i = 0
    while f"opt.{i}" in arrays:
        saved_leaves.append(arrays[f"opt.{i}"])
        i += 1
    opt_state: Any = None
    if optimizer is not None:
        reference, treedef = jax.tree_util.tree_flatten(optimizer.init(trainable(params)))
        if len(reference) != len(saved_leaves):
            raise ApproximationFileError(
                f"{path}: the saved optimiser state has {len(saved_leaves)} arrays; the optimiser given has "
                f"{len(reference)}: pass the optimiser the fit used."
            )
        for k, (leaf, ref) in enumerate(zip(saved_leaves, reference)):
            if tuple(leaf.shape) != tuple(np.shape(ref)):
                raise ApproximationFileError(
                    f"{path}: optimiser state array {k} has shape {tuple(leaf.shape)}; the optimiser given needs "
                    f"{tuple(np.shape(ref))}: pass the optimiser the fit used."
                )
        opt_state = jax.tree_util.tree_unflatten(
            treedef, [jnp.asarray(leaf, dtype=jnp.result_type(ref)) for leaf, ref in zip(saved_leaves, reference)])
    for name in ("step", "key", "hist"):
        if name not in arrays:
            raise ApproximationFileError(f"{path}: the entry {name!r} is missing.")
    try:
        key = jax.random.wrap_key_data(jnp.asarray(arrays["key"]), impl=metadata["key_impl"])
    except Exception as error:  # noqa: BLE001 - any malformed key
        raise ApproximationFileError(f"{path}: the saved random key cannot be read ({error}).") from None
    state = ADVIState(params, opt_state, jnp.asarray(arrays["step"], jnp.int32).reshape(()))
    approx = Approximation(model, family, optimizer, num_mc, key, state, arrays["hist"],
                           int(metadata["chunk_size"]), minibatch_fn(model))
    if "start_losses" in arrays:
        approx.start_losses = arrays["start_losses"]
    approx.best_start = metadata.get("best_start")
    approx.stop_reason = metadata.get("stop_reason")
    return approx
