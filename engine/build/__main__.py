"""``python -m engine.build build [-t TAG] [-f Dockerfile] CONTEXT`` (see engine.build.cli)."""

import sys

from engine.build.cli import main

sys.exit(main())
