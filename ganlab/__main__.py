"""``python -m ganlab`` runs the command-line interface."""

from ganlab.cli import main

raise SystemExit(main())
