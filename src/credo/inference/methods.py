"""Every variational method's spec by name, and the method a saved label stands for.

Labels are what saved approximations record (``approx.family.label``):
the Gaussian families keep their short labels (``"meanfield"``,
``"fullrank"``, ``"lowrank3"``); the other methods are written
``name(option=value,...)``, every field of the spec with its value, e.g.
``"svgd(n_particles=100,jitter=1.0)"``; a mixture of ``k`` members is
``mixture<k>[<member label>]``, e.g. ``"mixture5[meanfield]"``.
"""

from __future__ import annotations

import dataclasses
import re

from .advi import family_from_label
from .flows import NormalizingFlow
from .method import VariationalMethod
from .mixture import Mixture
from .pathfinder import PathfinderNormals
from .svgd import SteinParticles

__all__ = ["METHOD_SPECS", "method_from_label"]

#: The specs of the methods past the Gaussian families, by the name their labels start with.
METHOD_SPECS: dict[str, type[VariationalMethod]] = {
    spec.name: spec for spec in (SteinParticles, NormalizingFlow, PathfinderNormals)
}

_CONVERTERS = {"int": int, "float": float, "str": str}


def method_from_label(label: str) -> VariationalMethod:
    """The method spec a saved label stands for (see the module doc).

    Examples
    --------
    >>> method_from_label("svgd(n_particles=50,jitter=1.0)")
    SteinParticles(n_particles=50, jitter=1.0)
    >>> method_from_label("lowrank3")
    LowRank(rank=3)
    >>> method_from_label("mixture5[meanfield]")
    Mixture(member=MeanField(point=()), size=5)
    """
    mixture = re.fullmatch(r"mixture(\d+)\[(.*)\]", label) if isinstance(label, str) else None
    if mixture is not None:
        return Mixture(method_from_label(mixture.group(2)), int(mixture.group(1)))
    match = re.fullmatch(r"(\w+)\((.*)\)", label) if isinstance(label, str) else None
    if match is None:
        return family_from_label(label)
    spec = METHOD_SPECS.get(match.group(1))
    if spec is None:
        raise ValueError(f"unknown method {match.group(1)!r}; expected one of {sorted(METHOD_SPECS)} or a Gaussian "
                         "family.")
    types = {field.name: field.type for field in dataclasses.fields(spec)}
    options = {}
    for item in filter(None, match.group(2).split(",")):
        name, _, value = item.partition("=")
        if name not in types:
            raise ValueError(f"the label {label!r} names the option {name!r}, which {spec.name} does not have.")
        try:
            options[name] = _CONVERTERS[types[name]](value)
        except (KeyError, ValueError):
            raise ValueError(f"the label {label!r} gives {name}={value!r}, which is not a {types[name]}.") from None
    return spec(**options)
