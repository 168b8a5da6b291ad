"""``python -m cxreports`` runs the command line."""

from .cli import main

main()
