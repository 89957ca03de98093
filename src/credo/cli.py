"""The ``credo`` command line.

::

    credo demo moons [--n 50000] [--draws 5000] [--ppc-samples 500] [--seed 42]
                     [--out DIR] [--no-plots] [--no-progress]
    credo demo digits [--n 2000] [--draws 200] [--seed 0] [--bayesian-features] [--temperature 1]
                      [--out DIR] [--no-plots] [--no-progress]
    credo uci ...            (the UCI regression benchmark, credo.nn.uci)

``python -m credo ...`` is the same.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from .errors import OutputPathError

__all__ = ["main", "build_parser"]

DEFAULT_DEMO_OUT = "./credo-demo-moons"
DEFAULT_DIGITS_OUT = "./credo-demo-digits"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``credo`` (subcommands ``demo moons`` and ``uci``)."""
    parser = argparse.ArgumentParser(
        prog="credo",
        description="credo: Bayesian neural networks and variational inference on JAX, written the PyMC way.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="run a worked example end to end",
                               description="Run a worked example end to end.")
    demos = demo.add_subparsers(dest="demo", metavar="DEMO")
    moons = demos.add_parser(
        "moons",
        help="the PyMC3 Bayesian neural network tutorial (two moons, 2-5-5-1 tanh network, ADVI)",
        description=(
            "The classic PyMC3 Bayesian neural network tutorial: make_moons (1,000 points, noise 0.2, scaled, "
            "50/50 split), a 2-5-5-1 tanh network with N(0, 1) weights, mean-field ADVI, draws from the "
            "approximation, a posterior predictive on the test set. Prints the test accuracy and the time of "
            "each phase, and writes the tutorial's plots as PNGs."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    moons.add_argument("--n", type=_positive_int, default=50_000, help="ADVI iterations")
    moons.add_argument("--draws", type=_positive_int, default=5_000, help="draws from the approximation")
    moons.add_argument("--ppc-samples", type=_positive_int, default=500,
                       help="posterior draws used for the predictive on the test set")
    moons.add_argument("--seed", type=int, default=42, help="seed of the initial weights, the fit and the draws")
    moons.add_argument("--out", default=DEFAULT_DEMO_OUT, help="folder for the PNG plots")
    moons.add_argument("--no-plots", action="store_true", help="skip the plots")
    moons.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    _add_digits_parser(demos)

    commands.add_parser("uci", add_help=False, help="UCI regression benchmark (arguments go to credo.nn.uci)",
                        description="UCI regression benchmark; see `credo uci --help`.")
    return parser


def _run_demo_moons(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display; must precede any pyplot import

    from .demo import check_writable_folder, run_moons_demo

    out = None if args.no_plots else args.out
    try:
        if out is not None:
            check_writable_folder(out)
    except OutputPathError as error:
        print(f"credo demo moons: {error} Choose another --out, or --no-plots.", file=sys.stderr)
        return 2
    print(f"credo demo moons: n={args.n}, draws={args.draws}, ppc_samples={args.ppc_samples}, seed={args.seed}"
          + ("" if out is None else f", out={out}"), flush=True)
    run_moons_demo(n=args.n, draws=args.draws, ppc_samples=args.ppc_samples, seed=args.seed, out=out,
                   progressbar=not args.no_progress, echo=lambda line: print(line, flush=True))
    return 0


def _add_digits_parser(demos) -> None:
    digits = demos.add_parser(
        "digits",
        help="a Bayesian CNN on scikit-learn's 8x8 digits against a deterministic one (calibration, OOD)",
        description=(
            "A Bayesian CNN (mean-field ADVI) and the same network trained deterministically with optax, on "
            "scikit-learn's bundled 8x8 digits (no download): test accuracy, expected calibration error, log "
            "predictive density, and the AUROC of predictive entropy between clean test digits and the same "
            "digits rotated or noised. Writes a reliability diagram, the least certain digits, the entropy "
            "histograms and the loss curve as PNGs."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    digits.add_argument("--n", type=_positive_int, default=2000, help="optimisation steps of each network")
    digits.add_argument("--draws", type=_positive_int, default=200, help="posterior draws per prediction")
    digits.add_argument("--seed", type=int, default=0, help="seed of the fits and of the noised digits")
    digits.add_argument("--bayesian-features", action="store_true",
                        help="make the convolutions Bayesian too (by default only the output layer is)")
    digits.add_argument("--temperature", type=_temperature, default=1.0,
                        help="1 fits the posterior; below 1 a tempered one, the likelihood counted 1/T times")
    digits.add_argument("--out", default=DEFAULT_DIGITS_OUT, help="folder for the PNG plots")
    digits.add_argument("--no-plots", action="store_true", help="skip the plots")
    digits.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _run_demo_digits(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display; must precede any pyplot import

    from .nn.digits import run_digits_demo

    out = None if args.no_plots else args.out
    print(f"credo demo digits: n={args.n}, draws={args.draws}, seed={args.seed}"
          + ("" if args.temperature == 1 else f", temperature={args.temperature}")
          + ("" if out is None else f", out={out}"), flush=True)
    run_digits_demo(n=args.n, draws=args.draws, seed=args.seed, bayesian_features=args.bayesian_features,
                    temperature=args.temperature, out=out, progressbar=not args.no_progress,
                    echo=lambda line: print(line, flush=True))
    return 0


def _run_uci(argv: list[str]) -> int:
    try:
        module = importlib.import_module("credo.nn.uci")
    except ModuleNotFoundError as error:
        if error.name not in ("credo.nn", "credo.nn.uci"):
            raise
        print("credo uci: the UCI benchmark (credo.nn.uci) is not available in this installation.",
              file=sys.stderr)
        return 2
    result = module.main(argv)
    return result if isinstance(result, int) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Examples
    --------
    >>> main(["demo", "moons", "--n", "3000", "--draws", "200", "--no-plots", "--no-progress"])  # doctest: +SKIP
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "uci":
        return _run_uci(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo" and args.demo == "moons":
        return _run_demo_moons(args)
    if args.command == "demo" and args.demo == "digits":
        return _run_demo_digits(args)
    if args.command == "demo":
        print("credo demo: choose a demo: `credo demo moons` or `credo demo digits` (see `credo demo moons --help`).",
              file=sys.stderr)
        return 2
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
