"""Sphinx configuration of credo's documentation site.

Build (strict: any warning, including a broken cross-reference, fails)::

    python3 -m sphinx -W --keep-going -n -b html docs docs/_build/html

Pages under ``getting-started/``, ``gallery/``, ``porting/`` and
``performance.md`` are MyST notebooks executed at build time by myst-nb; their
outputs are cached by jupyter-cache in ``docs/_build/.jupyter_cache`` and a
page is executed again only when its code changes.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src"
# Document (and execute the notebooks against) this checkout's sources, also in the kernels.
sys.path.insert(0, str(SOURCE))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE), os.environ.get("PYTHONPATH")]))
os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
os.environ["IPYTHONDIR"] = str(Path(__file__).parent / "_ipython")  # the kernels' startup file
# The UCI example reads the benchmark's data folder when it is there (see gallery/uci.md).
if "CREDO_UCI_DIR" not in os.environ and (ROOT.parent / "shared" / "data" / "uci").is_dir():
    os.environ["CREDO_UCI_DIR"] = str(ROOT.parent / "shared" / "data" / "uci")

import credo  # noqa: E402

project = "credo"
author = "the credo authors"
copyright = "2026, the credo authors"
release = credo.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]

exclude_patterns = ["_build", "_ipython", "**.ipynb_checkpoints", "README.md"]
templates_path = ["_templates"]
html_static_path = ["_static"]

# --- pages and notebooks -------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = os.environ.get("CREDO_DOCS_EXECUTE", "cache")
nb_execution_cache_path = str(Path(__file__).parent / "_build" / ".jupyter_cache")
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
nb_execution_excludepatterns: list[str] = []

# --- API reference -------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc sections give the types, in words
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

PUBLIC_SUBMODULES = ("math", "nn", "metrics", "plots", "datasets", "callbacks", "errors", "distributed")
#: The modules behind the public names that their docstrings point to.
ENGINE_MODULES = ("credo.inference.method", "credo.inference.advi", "credo.inference.optimizers", "credo.inference.diagnostics",
                  "credo.inference.checkpoint", "credo.inference.pathfinder", "credo.inference.svgd",
                  "credo.inference.flows", "credo.inference.map", "credo.inference.nuts",
                  "credo.inference.driver", "credo.inference.programs", "credo.inference.io", "credo.model.compile", "credo.model.programs", "credo.model.placement", "credo.model.sources", "credo.inference.mixture", "credo.inference.starts", "credo.inference.streaming", "credo.nn.priors", "credo.nn.uci")


def public_names(module) -> list[str]:
    """``module.__all__``, or else the public classes and functions it defines."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__]


def write_submodule_pages(api: Path = Path(__file__).parent / "api") -> None:
    """One page per public submodule, listing its ``__all__`` (so a new name cannot be missed).

    Every name of ``credo.__all__`` must be on ``api/index.rst`` or be one of the
    submodules: a name missing from the reference stops the build.
    """
    listed = set(re.findall(r"^   (\w+)$", (api / "index.rst").read_text(), re.M))
    missing = sorted(set(credo.__all__) - listed - set(PUBLIC_SUBMODULES))
    if missing:
        raise RuntimeError(f"credo.__all__ names missing from docs/api/index.rst: {missing}")
    folder = api / "submodules"
    folder.mkdir(exist_ok=True)
    pages = [(getattr(credo, name), f"credo.{name}") for name in PUBLIC_SUBMODULES]  # cr.math: credo.model.math
    pages += [(importlib.import_module(name), name) for name in ENGINE_MODULES]
    for module, title in pages:
        name = title.removeprefix("credo.")
        members = "\n".join(f"   {member}" for member in public_names(module))
        text = (f"{title}\n{'=' * len(title)}\n\n.. automodule:: {module.__name__}\n   :no-members:\n\n"
                f".. currentmodule:: {module.__name__}\n\n.. autosummary::\n   :toctree: generated\n   :nosignatures:\n\n"
                f"{members}\n")
        page = folder / f"{name}.rst"
        if not page.exists() or page.read_text() != text:
            page.write_text(text)


write_submodule_pages()

# --- strictness ----------------------------------------------------------------------
nitpicky = True
# Types of other projects named in docstrings: no inventory is fetched (CI has no network
# but the package registries), so they are plain text, not links.
nitpick_ignore_regex = [
    (r"py:(class|obj|func|mod|data|exc|meth|attr)",
     r"(numpy|np|jax|jnp|optax|arviz|az|xarray|matplotlib|sklearn|numpyro|blackjax|flax|equinox|flowjax|"
     r"pathlib|os|datetime|collections|typing|graphviz)(\..*)?"),
]

# --- HTML ----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"credo {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
}
html_show_sourcelink = False
html_css_files = ["credo.css"]
# The porting guide's tables need the width of both sidebars.
html_sidebars = {"porting/index": []}
html_theme_options["secondary_sidebar_items"] = {"**": ["page-toc"], "porting/index": []}


def skip_generated_request_methods(app, what, name, obj, skip, options):
    """scikit-learn writes ``set_fit_request``-style methods onto every estimator; they are its, not credo's."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


FRONT_PAGE_FIGURE_FROM = "getting-started/tutorial"


def front_page_figure(app, doctree, docname):
    """Put the tutorial's last figure (drawn when it was executed) into the front page's placeholder.

    The front page shows what the library produces without running the tutorial again: the image
    node is copied from the tutorial's doctree, and the image file is the one the build already
    copies for the tutorial.
    """
    if docname != "index":
        return
    from docutils import nodes

    figures = list(app.env.get_doctree(FRONT_PAGE_FIGURE_FROM).findall(nodes.image))
    holders = [node for node in doctree.findall(nodes.container) if "front-page-figure" in node["classes"]]
    if not figures or len(holders) != 1:
        raise RuntimeError(f"front page: {len(figures)} figures in {FRONT_PAGE_FIGURE_FROM}, "
                           f"{len(holders)} placeholders in index.md (expected at least 1 and 1)")
    image = figures[-1].deepcopy()
    image["alt"] = "The tutorial's network: predicted probability of class 1 and the uncertainty of the labels"
    holders[0].insert(0, image)


def always_rewrite_front_page(app, env, added, changed, removed):
    """The front page borrows the tutorial's figure: write it again whenever anything changed."""
    return ["index"] if (added or changed or removed) else []


def setup(app):
    app.connect("autodoc-skip-member", skip_generated_request_methods)
    app.connect("doctree-resolved", front_page_figure)
    app.connect("env-get-outdated", always_rewrite_front_page)
