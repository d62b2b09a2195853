"""Run the dev SMTP sink (widget_server.mail.devsink.SmtpSink) as its own process.

Started by bench/registration.py so that mail delivery is real load for the server but
the sink's CPU is not counted as load-generator CPU. Stops on SIGTERM/SIGINT.

    python bench/smtp_sink.py MAILDIR PORT
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from widget_server.mail.devsink import SmtpSink


def main() -> None:
    directory, port = Path(sys.argv[1]), int(sys.argv[2])
    sink = SmtpSink(directory, host="127.0.0.1", port=port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sink.start()
    print("ready", flush=True)
    # Bounded even if nobody signals us: the bench never runs for an hour.
    stop.wait(timeout=3600)
    sink.stop()


if __name__ == "__main__":
    main()
