"""Starts and stops one luigid process for a harness: ours or Python's, chosen by a command line.

Shared by ``scheduler_conformance.py`` (a fresh server per Luigi test) and ``e2e_pipeline.py`` (one
server for two worker processes). A server gets its own temporary working directory holding the
``luigi.cfg`` it must read (the environment's ``LUIGI_CONFIG_PATH``/``LUIGI_CONFIG_PARSER`` are removed
so it finds that file the way a user's server would), its state file and its log. It listens on a free
loopback port; "ready" means the port accepts TCP connections, which needs no RPC and so leaves the
scheduler's state untouched. The command comes from ``LUIGID_BIN``: shell-style words, usually one
path, so a wrapper such as ``python clock_luigid.py`` fits too.
"""

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

# How long a server may take to accept connections, and how many times a start is retried when the
# chosen port turned out to be taken in the meantime.
STARTUP_TIMEOUT_S = 30.0
START_ATTEMPTS = 4
LOG_TAIL_LINES = 40


class HarnessError(Exception):
    """The harness could not start, reach or stop a luigid process."""


def bool_env(name):
    """True when the environment variable is set to 1/true/yes/on."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def luigid_command():
    """The luigid command: LUIGID_BIN split into words, else the luigid beside this Python.

    Words naming existing files by relative paths are made absolute, because the server starts in its
    own working directory.
    """
    configured = os.environ.get("LUIGID_BIN", "").strip()
    if configured:
        words = shlex.split(configured)
        return [os.path.abspath(w) if not os.path.isabs(w) and os.path.exists(w) else w for w in words]
    return [os.path.join(os.path.dirname(sys.executable), "luigid")]


def config_value(value):
    """Spells a Python value the way luigi.cfg spells it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_config(path, sections):
    """Writes a luigi.cfg from {section: {option: value}}."""
    lines = []
    for section, options in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {config_value(value)}" for key, value in sorted(options.items())]
        lines.append("")
    with open(path, "w") as cfg:
        cfg.write("\n".join(lines))


def free_port():
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Luigid:
    """One luigid subprocess with its own working directory, luigi.cfg, state file and log."""

    def __init__(self, command, config_sections, test_clock=False, prefix="luigid-"):
        self.command = list(command)
        self.test_clock = test_clock
        self.workdir = tempfile.mkdtemp(prefix=prefix)
        self.log_path = os.path.join(self.workdir, "luigid.log")
        self.process = None
        self.port = None
        write_config(os.path.join(self.workdir, "luigi.cfg"), config_sections)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _argv(self, port):
        argv = self.command + [
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
            "--state-path",
            os.path.join(self.workdir, "state"),
        ]
        if self.test_clock:
            argv.append("--test-clock")
        return argv

    def start(self):
        """Starts the server and returns once it accepts connections; raises HarnessError otherwise."""
        env = dict(os.environ)
        for name in ("LUIGI_CONFIG_PATH", "LUIGI_CONFIG_PARSER"):
            env.pop(name, None)
        failures = []
        for _ in range(START_ATTEMPTS):
            port = free_port()
            try:
                with open(self.log_path, "ab") as log:
                    self.process = subprocess.Popen(
                        self._argv(port),
                        cwd=self.workdir,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
            except OSError as exc:
                raise HarnessError(f"cannot start luigid {self.command!r}: {exc}") from exc
            if self._wait_until_listening(port):
                self.port = port
                return self
            failures.append(f"port {port}: exited with status {self.process.returncode}")
        raise HarnessError(
            f"luigid {self.command!r} never accepted connections ({'; '.join(failures)});"
            f" last log lines:\n{self.log_tail()}"
        )

    def _wait_until_listening(self, port):
        """True once the port accepts connections; False if the process exited first."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                    pass
            except OSError:
                time.sleep(0.01)
                continue
            # A server that lost a race for the port exits at once; do not take the port's owner for ours.
            return self.process.poll() is None
        self._kill()
        raise HarnessError(
            f"luigid {self.command!r} did not accept connections on port {port} within {STARTUP_TIMEOUT_S:.0f} s;"
            f" last log lines:\n{self.log_tail()}"
        )

    def set_clock(self, t):
        """Moves the server's test clock to t (seconds since the epoch): POST /_testing/clock."""
        body = urllib.parse.urlencode({"data": json.dumps({"time": t})}).encode()
        request = urllib.request.Request(self.url + "/_testing/clock", data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                reply.read()
        except OSError as exc:
            raise HarnessError(
                f"POST {self.url}/_testing/clock failed: {exc} (does this luigid support --test-clock?)"
            ) from exc

    def _kill(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self):
        """Kills the server; returns a description of an earlier unexpected exit, or None."""
        if self.process is None:
            return None
        crashed = None
        code = self.process.poll()
        if code is not None:
            crashed = f"luigid exited on its own with status {code}; last log lines:\n{self.log_tail()}"
        else:
            self._kill()
        self.process = None
        return crashed

    def log_tail(self, lines=LOG_TAIL_LINES):
        """The last lines of the server's log."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 64 * 1024))
                text = log.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def cleanup(self):
        """Removes the working directory (after stop)."""
        shutil.rmtree(self.workdir, ignore_errors=True)
