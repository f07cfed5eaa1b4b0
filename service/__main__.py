"""`python -m service` is the `mrnet` command."""

from service.cli import main

raise SystemExit(main())
