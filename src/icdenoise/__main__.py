"""``python -m icdenoise``: the same command line as the ``icdenoise`` console script."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
