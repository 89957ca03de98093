"""``python -m credo``: the same as the ``credo`` command (see :mod:`credo.cli`)."""

from credo.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
