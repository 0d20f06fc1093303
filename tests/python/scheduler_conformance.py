#!/usr/bin/env python3
"""Runs Luigi 3.8.1's own scheduler API tests against an external luigid process.

Luigi's ``test/scheduler_api_test.py`` (from the 3.8.1 sdist, which ``setup_venv.sh`` downloads; no Luigi
file lives in this repository) drives an in-process ``luigi.scheduler.Scheduler`` through its public
methods. This module is both a command-line runner and the pytest plugin that runner loads. For every
test it:

* starts a fresh luigid subprocess (the command in ``LUIGID_BIN``, default the venv's Python ``luigid``)
  on a free loopback port, in a temporary working directory whose ``luigi.cfg`` carries the test's
  ``get_scheduler_config()`` values under ``[scheduler]``, and waits until the port accepts connections;
* replaces the test's ``self.sch`` with ``luigi.rpc.RemoteScheduler`` pointed at that server (one attempt
  per request, no retry wait), so every assertion is about the server's HTTP replies;
* when ``LUIGID_TEST_CLOCK=1``, starts the server with the hidden ``--test-clock`` flag and makes the
  test's ``setTime(t)`` also ``POST /_testing/clock`` with ``data={"time": t}``, so tests that fake the
  clock move the server's clock too. The contract: such a server reads real time until the first
  POST and the posted value, frozen, from then on; that mirrors the test process, whose clock is real
  until ``setTime``. (A server started after the test faked time gets that time posted right after
  start; the two request-heavy tests get the current time posted at start, see SLOW_TESTS.) Python's
  own luigid has no such endpoint; ``clock_luigid.py`` is a stand-in that adds it;
* kills the server when the test ends and turns an unexpected server exit into a test error carrying
  the tail of the server log.

Tests that build their own ``Scheduler(...)`` in the test body come in two kinds. Those that then use
only public methods are redirected to a fresh luigid configured with exactly those arguments (the ones
that also fake the clock only when the clock can be controlled, otherwise they stay in-process as in
the baseline experiment). The others patch scheduler internals (mocked ``BatchNotifier``, metrics
collectors, ``prune``) and necessarily stay in-process; each test's record says which scheduler it used.

Output: pytest's normal report, then a JSON summary (per test: outcome, duration, RPC count, which
scheduler it talked to, failure message; plus totals) written to ``--json`` or ``LUIGI_CONFORMANCE_JSON``.

Usage (see docs/conformance.md)::

    python scheduler_conformance.py [--sdist DIR] [--luigid CMD] [--test-clock] [--json PATH]
                                    [--workers N] [extra pytest arguments...]
"""

import argparse
import json
import os
import sys
import time
import traceback

import pytest

from luigid_process import HarnessError, Luigid, bool_env, luigid_command

HERE = os.path.dirname(os.path.abspath(__file__))
# Tests replace time.time with fakes; the harness keeps its own handle on the real one.
_REAL_TIME = time.time
TEST_MODULE = "scheduler_api_test"
TEST_CLASS = "SchedulerApiTest"

# Tests that construct their own Scheduler(**config) and then use only public methods: a fresh luigid
# with exactly that configuration stands in for it.
OWN_SCHEDULER_REMOTE = frozenset(
    {
        "test_task_list_beyond_limit",
        "test_task_list_within_limit",
        "test_task_lists_some_beyond_limit",
        "test_dynamic_shown_tasks_in_task_list",
        "test_upstream_beyond_limit",
        "test_search_results_beyond_limit",
    }
)
# The same kind, but they fake the clock, so they can only pass against a server whose clock the
# harness controls; without a test clock they keep their in-process scheduler.
OWN_SCHEDULER_REMOTE_WITH_CLOCK = frozenset(
    {
        "test_automatic_re_enable",
        "test_automatic_re_enable_with_one_failure_allowed",
        "test_no_automatic_re_enable_after_manual_disable",
        "test_no_automatic_re_enable_after_auto_then_manual_disable",
        "test_assistants_dont_nurture_finished_statuses",
        "test_no_crash_on_only_disable_hard_timeout",
    }
)

# The two tests that send tens of thousands of requests; they run first so that pytest-xdist puts them
# on different workers instead of queueing one behind the other at the end. In process they never see
# a prune; a server prunes every 60 s of its clock, and test_quadratic_behavior's 10,000 workers (idle
# for longer than its worker_disconnect_delay of 10 s) then lose their tasks, so against a server on
# real time it passes only if its 30,000 requests finish within about a minute. With a test clock the
# harness freezes the server's clock for these tests from the start, which makes them independent of
# speed, as they are in process.
SLOW_TESTS = ("test_get_work_speed", "test_quadratic_behavior")

# Per-request timeout of the RemoteScheduler. Luigi's default is 10 s, but Python's luigid stalls for
# longer than that in its 60-second prune during test_quadratic_behavior (10,000 expiring workers),
# and in-process the suite has no timeout at all: the suite checks what the server answers, not how
# fast, so a stall must not fail a test.
RPC_TIMEOUT_S = 120.0


def _fetcher():
    """Which HTTP client RemoteScheduler uses: urllib (what a plain `pip install luigi` gets) or requests."""
    fetcher = os.environ.get("LUIGI_CONFORMANCE_FETCHER", "urllib").strip() or "urllib"
    if fetcher not in ("urllib", "requests"):
        raise HarnessError(f"LUIGI_CONFORMANCE_FETCHER must be urllib or requests, not {fetcher!r}")
    return fetcher


class _TestContext:
    """What the harness knows about the running test: its servers, RPC count and in-process schedulers."""

    def __init__(self, test_name, command, test_clock, fetcher):
        self.test_name = test_name
        self.command = command
        self.test_clock = test_clock
        self.fetcher = fetcher
        self.servers = []
        self.rpc_count = 0
        self.in_process_schedulers = 0
        self.redirect_own_schedulers = test_name in OWN_SCHEDULER_REMOTE or (
            test_clock and test_name in OWN_SCHEDULER_REMOTE_WITH_CLOCK
        )

    def remote_scheduler(self, scheduler_config):
        import luigi.rpc

        context = self

        class CountingRemoteScheduler(luigi.rpc.RemoteScheduler):
            def _request(self, url, data, attempts=3, allow_null=True):
                context.rpc_count += 1
                return super()._request(url, data, attempts=attempts, allow_null=allow_null)

        server = Luigid(self.command, {"scheduler": scheduler_config}, self.test_clock, prefix="luigid-conformance-")
        self.servers.append(server)
        server.start()
        if self.test_clock and (time.time is not _REAL_TIME or self.test_name in SLOW_TESTS):
            # The test already faked the clock (setTime before building its own Scheduler): start the
            # server at that time too. Otherwise the server stays on real, advancing time, exactly what an
            # in-process scheduler reads until the test's first setTime; except for the slow tests (see
            # SLOW_TESTS), whose in-process runs never prune.
            server.set_clock(time.time())
        scheduler = CountingRemoteScheduler(server.url, connect_timeout=RPC_TIMEOUT_S)
        scheduler._rpc_retry_attempts = 1
        scheduler._rpc_retry_wait = 0
        if self.fetcher == "urllib":
            scheduler._fetcher = luigi.rpc.URLLibFetcher()
        elif self.fetcher == "requests" and not isinstance(scheduler._fetcher, luigi.rpc.RequestsFetcher):
            raise HarnessError("LUIGI_CONFORMANCE_FETCHER=requests, but the requests package is not importable")
        return scheduler

    def set_clock(self, t):
        if self.test_clock:
            for server in self.servers:
                server.set_clock(t)

    def close(self):
        """Stops every server; raises HarnessError if one had died during the test."""
        problems = [problem for problem in (server.stop() for server in self.servers) if problem]
        if not problems:
            for server in self.servers:
                server.cleanup()
        if problems:
            raise HarnessError("\n\n".join(problems))

    def describe(self):
        if self.rpc_count and self.in_process_schedulers:
            scheduler = "both"
        elif self.rpc_count:
            scheduler = "luigid"
        else:
            scheduler = "in-process"
        return {"scheduler": scheduler, "rpc_count": self.rpc_count, "servers": len(self.servers)}


# The context of the test running in this process, and the description of the last finished one.
_CURRENT = None
_LAST_DESCRIPTION = None
_PATCHED = set()


def _patch_test_class(module, cls):
    """Rewires SchedulerApiTest's setUp/tearDown/setTime and the module's Scheduler name."""
    if cls in _PATCHED:
        return
    _PATCHED.add(cls)
    command = luigid_command()
    test_clock = bool_env("LUIGID_TEST_CLOCK")
    fetcher = _fetcher()
    original_teardown = cls.tearDown
    original_set_time = cls.setTime

    if getattr(module, "_conformance_real_scheduler", None) is None:
        real_scheduler = module.Scheduler
        module._conformance_real_scheduler = real_scheduler

        def scheduler_factory(*args, **kwargs):
            context = _CURRENT
            if context is not None and not args and context.redirect_own_schedulers:
                return context.remote_scheduler(kwargs)
            if context is not None:
                context.in_process_schedulers += 1
            return real_scheduler(*args, **kwargs)

        module.Scheduler = scheduler_factory

    def setUp(self):
        global _CURRENT, _LAST_DESCRIPTION
        super(cls, self).setUp()
        _CURRENT = _TestContext(self._testMethodName, command, test_clock, fetcher)
        self.time = time.time
        try:
            self.sch = _CURRENT.remote_scheduler(self.get_scheduler_config())
        except BaseException:
            # unittest skips tearDown when setUp fails: stop what did start, then report the failure.
            context, _CURRENT = _CURRENT, None
            _LAST_DESCRIPTION = context.describe()
            try:
                context.close()
            except HarnessError:
                pass
            raise

    def tearDown(self):
        global _CURRENT, _LAST_DESCRIPTION
        context = _CURRENT
        try:
            original_teardown(self)
        finally:
            _CURRENT = None
            if context is not None:
                _LAST_DESCRIPTION = context.describe()
                context.close()

    def setTime(self, t):
        original_set_time(self, t)
        if _CURRENT is not None:
            _CURRENT.set_clock(t)

    cls.setUp = setUp
    cls.tearDown = tearDown
    cls.setTime = setTime


# --- pytest plugin hooks --------------------------------------------------------------------------------


def pytest_configure(config):
    config.addinivalue_line("markers", "scheduler: Luigi's marker for scheduler tests")
    config._conformance_results = {}
    config._conformance_started = time.monotonic()


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.name not in SLOW_TESTS)
    for item in items:
        cls = getattr(item, "cls", None)
        module = getattr(item, "module", None)
        if cls is not None and module is not None and module.__name__ == TEST_MODULE and cls.__name__ == TEST_CLASS:
            _patch_test_class(module, cls)


def pytest_runtest_setup(item):
    deadline = os.environ.get("LUIGI_CONFORMANCE_DEADLINE")
    if deadline and _REAL_TIME() > float(deadline):
        pytest.fail("not run: the harness's time budget (--budget-minutes) was used up", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    global _LAST_DESCRIPTION
    _LAST_DESCRIPTION = None
    try:
        return (yield)
    finally:
        # user_properties travel with the report, also from pytest-xdist workers to the controller.
        item.user_properties.append(("conformance", _LAST_DESCRIPTION or {"scheduler": "none", "rpc_count": 0}))


def _short_name(nodeid):
    return nodeid.rsplit("::", 1)[-1]


def pytest_runtest_logreport(report):
    config = _CONFIG
    if config is None:
        return
    record = config._conformance_results.setdefault(
        _short_name(report.nodeid), {"outcome": "passed", "duration": 0.0, "nodeid": report.nodeid}
    )
    record["duration"] = round(record["duration"] + report.duration, 3)
    for name, value in report.user_properties:
        if name == "conformance":
            record.update(value)
    if report.failed:
        record["outcome"] = "failed" if report.when == "call" else "error"
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr)
        record.setdefault("message", message[:2000])
    elif report.skipped and record["outcome"] == "passed":
        record["outcome"] = "skipped"


_CONFIG = None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    global _CONFIG
    _CONFIG = session.config


def _summary(config):
    results = config._conformance_results
    totals = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for record in results.values():
        totals[record["outcome"]] = totals.get(record["outcome"], 0) + 1
    totals["total"] = len(results)
    totals["passed_using_luigid"] = sum(
        1 for r in results.values() if r["outcome"] == "passed" and r.get("scheduler") in ("luigid", "both")
    )
    totals["in_process_only"] = sum(1 for r in results.values() if r.get("scheduler") == "in-process")
    import luigi

    return {
        "luigid": luigid_command(),
        "test_clock": bool_env("LUIGID_TEST_CLOCK"),
        "luigi_version": getattr(luigi, "__version__", "unknown"),
        "fetcher": _fetcher(),
        "workers": os.environ.get("LUIGI_CONFORMANCE_WORKERS", "0"),
        "duration_seconds": round(time.monotonic() - config._conformance_started, 1),
        "totals": totals,
        "tests": dict(sorted(results.items())),
    }


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput"):
        return
    summary = _summary(config)
    totals = summary["totals"]
    terminalreporter.write_sep("=", "luigid conformance")
    terminalreporter.write_line(
        f"luigid: {' '.join(summary['luigid'])} (test clock: {summary['test_clock']},"
        f" fetcher: {summary['fetcher']}, workers: {summary['workers']})"
    )
    terminalreporter.write_line(
        f"{totals['passed']} of {totals['total']} passed ({totals['passed_using_luigid']} of them talked to luigid),"
        f" {totals['failed']} failed, {totals['error']} errors, {totals['skipped']} skipped,"
        f" {summary['duration_seconds']:.1f} s"
    )
    failing = sorted(name for name, r in summary["tests"].items() if r["outcome"] in ("failed", "error"))
    if failing:
        terminalreporter.write_line("not passing: " + ", ".join(failing))
    path = os.environ.get("LUIGI_CONFORMANCE_JSON")
    if path:
        with open(path, "w") as out:
            json.dump(summary, out, indent=2, sort_keys=False)
            out.write("\n")
        terminalreporter.write_line(f"summary written to {path}")


# --- command-line runner ------------------------------------------------------------------------------


def _default_sdist():
    if os.environ.get("LUIGI_RS_SDIST"):
        return os.environ["LUIGI_RS_SDIST"]
    cache = os.environ.get("LUIGI_RS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "luigi-rs")
    return os.path.join(cache, "luigi-3.8.1-sdist")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run Luigi 3.8.1's scheduler_api_test.py against an external luigid.")
    parser.add_argument("--sdist", default=_default_sdist(), help="unpacked luigi 3.8.1 sdist (setup_venv.sh makes it)")
    parser.add_argument("--luigid", help="luigid command (default: $LUIGID_BIN, else this venv's luigid)")
    parser.add_argument(
        "--test-clock",
        action="store_true",
        default=bool_env("LUIGID_TEST_CLOCK"),
        help="start luigid with --test-clock and move its clock with the test's (default: $LUIGID_TEST_CLOCK)",
    )
    parser.add_argument(
        "--json", default=os.environ.get("LUIGI_CONFORMANCE_JSON"), help="where to write the JSON summary"
    )
    parser.add_argument(
        "--workers",
        default=os.environ.get("LUIGI_CONFORMANCE_WORKERS") or "2",
        help="pytest-xdist worker count, or 0 to run in this process (default: $LUIGI_CONFORMANCE_WORKERS, else 2)",
    )
    parser.add_argument(
        "--fetcher",
        choices=("urllib", "requests"),
        default=os.environ.get("LUIGI_CONFORMANCE_FETCHER") or "urllib",
        help="RemoteScheduler's HTTP client (default: $LUIGI_CONFORMANCE_FETCHER, else urllib)",
    )
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=float(os.environ.get("LUIGI_CONFORMANCE_BUDGET_MINUTES") or 40),
        help="tests not started within this many minutes fail as 'not run', so a hanging server cannot"
        " stall a CI run (default: $LUIGI_CONFORMANCE_BUDGET_MINUTES, else 40)",
    )
    args, pytest_args = parser.parse_known_args(argv)

    test_file = os.path.join(args.sdist, "test", TEST_MODULE + ".py")
    if not os.path.isfile(test_file):
        print(f"no {test_file}; run tests/python/setup_venv.sh first", file=sys.stderr)
        return 2
    # The plugin reads its settings from the environment so pytest-xdist workers see them too.
    if args.luigid:
        os.environ["LUIGID_BIN"] = args.luigid
    os.environ["LUIGID_TEST_CLOCK"] = "1" if args.test_clock else "0"
    os.environ["LUIGI_CONFORMANCE_FETCHER"] = args.fetcher
    os.environ["LUIGI_CONFORMANCE_WORKERS"] = args.workers
    os.environ["LUIGI_CONFORMANCE_DEADLINE"] = str(_REAL_TIME() + 60 * args.budget_minutes)
    if args.json:
        os.environ["LUIGI_CONFORMANCE_JSON"] = os.path.abspath(args.json)
    else:
        os.environ.pop("LUIGI_CONFORMANCE_JSON", None)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (HERE, os.environ.get("PYTHONPATH")) if p)
    if HERE not in sys.path:
        sys.path.insert(0, HERE)

    command = [
        test_file,
        "-p",
        "scheduler_conformance",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        os.path.dirname(test_file),
        "-q",
    ]
    if args.workers not in ("0", ""):
        command += ["-n", args.workers]
    try:
        return int(pytest.main(command + pytest_args))
    except Exception:  # noqa: BLE001 - report any crash of pytest itself as a harness failure
        traceback.print_exc()
        return 3


if __name__ == "__main__":
    sys.exit(main())
