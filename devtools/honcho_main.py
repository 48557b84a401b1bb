"""honcho's command line, kept stopping its processes when its output has gone.

The launcher reads honcho's output through a pipe. When the launcher is killed outright, the
kernel sends honcho SIGTERM (``devtools.parent_death``) and honcho's handler first *prints*
"SIGTERM received": the pipe has no reader any more, the write raises ``BrokenPipeError``
inside the handler, honcho dies before signalling anyone, and its workers (which ignore
SIGTERM by design) keep every server running. Here honcho writes to a stream that drops what
can no longer be delivered, so it goes on to stop every process as on Ctrl-C.

Usage: ``python -m devtools.honcho_main start -f Procfile …`` (honcho's own arguments).
"""

from __future__ import annotations

import io
import sys


class DeliverOrDrop(io.TextIOBase):
    """A text stream over another that silently drops writes once its reader has gone."""

    def __init__(self, inner: io.TextIOBase) -> None:
        self._inner = inner
        self._gone = False

    @property
    def encoding(self) -> str:  # honcho checks the output encoding at start
        """The wrapped stream's encoding."""
        return self._inner.encoding

    def writable(self) -> bool:
        """Always: writes after the reader left are dropped, not refused."""
        return True

    def isatty(self) -> bool:
        """Whether the wrapped stream is a terminal."""
        return self._inner.isatty()

    def fileno(self) -> int:
        """The wrapped stream's descriptor."""
        return self._inner.fileno()

    def write(self, text: str) -> int:
        """Write ``text`` while someone reads; afterwards pretend it was written."""
        if not self._gone:
            try:
                self._inner.write(text)
            except (BrokenPipeError, ValueError):  # reader gone, or stream closed
                self._gone = True
        return len(text)

    def flush(self) -> None:
        """Flush while someone reads."""
        if not self._gone:
            try:
                self._inner.flush()
            except (BrokenPipeError, ValueError):
                self._gone = True


def main() -> None:
    """Run honcho with ``sys.argv[1:]``; its printer binds ``sys.stdout`` when imported."""
    sys.stdout = DeliverOrDrop(sys.stdout)  # type: ignore[assignment]
    sys.stderr = DeliverOrDrop(sys.stderr)  # type: ignore[assignment]
    from honcho.command import main as honcho

    honcho(sys.argv[1:])


if __name__ == "__main__":
    main()
