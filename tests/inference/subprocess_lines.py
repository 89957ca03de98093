"""Reading a subprocess's output line by line with a deadline, so that a test never hangs on it."""

from __future__ import annotations

import queue
import subprocess
import threading

#: Seconds a test waits for the next line before it fails.
LINE_TIMEOUT = 300


class Lines:
    """The stdout lines of ``process``, read by a thread; ``next()`` fails the test after ``timeout`` seconds."""

    def __init__(self, process: subprocess.Popen, timeout: float = LINE_TIMEOUT):
        self.process = process
        self.timeout = timeout
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)  # the process closed its output

    def next(self, what: str):
        """The next line; None when the process has ended."""
        try:
            return self._lines.get(timeout=self.timeout)
        except queue.Empty:
            self.process.kill()
            raise AssertionError(f"no output from the subprocess for {self.timeout} s while waiting for {what}") from None
