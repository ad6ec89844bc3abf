"""`python -m lstmkit` runs the command line."""

from lstmkit.cli.main import main

raise SystemExit(main())
