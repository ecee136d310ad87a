"""``python -m compose.keys [--check]``: write docs/compose-keys.md, or check it is current."""

import sys

from compose.keys.document import main

sys.exit(main(sys.argv[1:]))
