#!/usr/bin/env python3
"""Python's own luigid plus the test-only clock control our luigid offers, for validating the harness.

Our luigid has a hidden ``--test-clock`` flag: with it the server reads time from a clock that
``POST /_testing/clock`` (form field ``data={"time": <seconds since the epoch>}``) sets and freezes.
``scheduler_conformance.py`` relies on that to make Luigi's time-faking tests move the server's clock.
Python's luigid has no such control, so this wrapper adds one, to prove the harness's clock plumbing
before our own server exists and to measure the best count the suite allows.

It runs the real ``luigi.cmdline.luigid`` with the same arguments. With ``--test-clock`` among them
(removed before luigid parses the rest) it first replaces ``time.time`` in this process, which is
where ``luigi.scheduler`` reads the time, by a clock that follows real time until the first
``POST /_testing/clock`` and returns the posted value from then on; and it adds that route to the
Tornado application ``luigi.server.app`` builds. Tornado's own timers use the monotonic clock, so the
periodic prune keeps its real 60-second rhythm.

Usage: ``LUIGID_BIN="<venv>/bin/python tests/python/clock_luigid.py"``.
"""

import json
import sys
import time


class _Clock:
    """Real time until set; then the set value, frozen."""

    def __init__(self):
        self._real = time.time
        self._fixed = None

    def __call__(self):
        return self._real() if self._fixed is None else self._fixed

    def set(self, value):
        self._fixed = float(value)


def _install_test_clock():
    import luigi.server
    import tornado.web

    clock = _Clock()
    time.time = clock

    class ClockHandler(tornado.web.RequestHandler):
        def post(self):
            try:
                arguments = json.loads(self.get_argument("data"))
                clock.set(arguments["time"])
            except (ValueError, KeyError, TypeError) as exc:
                self.set_status(400)
                self.write({"error": f'expected data={{"time": <number>}}: {exc}'})
                return
            self.write({"response": None})

    build_app = luigi.server.app

    def app_with_clock(scheduler):
        application = build_app(scheduler)
        application.add_handlers(r".*", [(r"/_testing/clock", ClockHandler)])
        return application

    luigi.server.app = app_with_clock


def main(argv):
    if "--test-clock" in argv:
        argv = [arg for arg in argv if arg != "--test-clock"]
        _install_test_clock()
    import luigi.cmdline

    luigi.cmdline.luigid(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
