"""``python -m jinavdr`` (and ``torchrun -m jinavdr``) runs the CLI."""

from jinavdr.cli import main

main()
