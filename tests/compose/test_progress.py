"""The progress display: rich draws the tty mode only; the other modes start without it."""

from __future__ import annotations

import io
import subprocess
import sys

from compose.apply import ProgressEvent
from compose.progress import Progress


def test_the_tty_mode_draws_a_block_with_rich() -> None:
    stream = io.StringIO()
    progress = Progress("tty", stream)
    with progress.running("Stopping"):
        progress(ProgressEvent("Container", "p-web-1", "Stopping"))
        progress(ProgressEvent("Container", "p-web-1", "Stopped", done=True))
        progress(ProgressEvent("Container", "p-db-1", "Error", detail="boom", error=True))
    text = stream.getvalue()
    assert "[+] Stopping 2/2" in text
    assert "✔" in text and "✘" in text and "boom" in text


def test_the_plain_mode_prints_lines_without_rich() -> None:
    probe = (
        "import io, sys\n"
        "from compose.apply import ProgressEvent\n"
        "from compose.progress import Progress\n"
        "out = io.StringIO()\n"
        "progress = Progress('auto', out)\n"  # not a terminal: plain
        "with progress.running():\n"
        "    progress(ProgressEvent('Network', 'p_default', 'Created', done=True))\n"
        "print(progress.mode, repr(out.getvalue()), 'rich' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert run.stdout.strip() == "plain ' Network p_default  Created\\n' False"
