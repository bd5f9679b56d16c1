"""``python -m examples.desktop login|whoami|call-api|logout``."""

from examples.desktop.cli import main

raise SystemExit(main())
