"""`python -m folding` is the `folding` command."""

from folding.cli import main

raise SystemExit(main())
