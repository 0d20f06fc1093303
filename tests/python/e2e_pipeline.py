#!/usr/bin/env python3
"""End-to-end check: two real Python Luigi 3.8.1 worker processes share one luigid on a ~300-task DAG.

The module is two things:

* A Luigi pipeline. ``Root`` pulls in ``Merge`` tasks (fan-in), which pull in four layers of ``Mix``
  tasks where every task feeds two or three tasks of the next layer (fan-out and fan-in), which pull
  in ``Source`` leaves: 311 tasks in all. Every task, when run, first appends its id to a shared
  run log (under an exclusive ``flock``) and then creates a marker file with ``O_CREAT|O_EXCL``,
  failing loudly if the marker already exists, so a second execution of any task anywhere is caught
  even if the log were lost. It also checks that all its inputs exist (the scheduler must not hand
  out a task before its dependencies are done), sleeps briefly so both workers really overlap, and
  writes its output atomically.

* A driver (``python e2e_pipeline.py --scheduler-url URL`` or ``--start-luigid``). It starts two worker
  processes at once, each the real ``luigi`` command line (``luigi --module e2e_pipeline Root --root DIR
  --scheduler-host H --scheduler-port P --workers 2 --no-lock``); one uses Luigi's ``requests``
  transport and the other its ``urllib`` one, the two HTTP clients Python workers use in the wild.
  It waits for both (with a timeout), then runs a third worker on the finished pipeline, and checks:
  all three exited 0; every task of the DAG ran exactly once across the first two and the third ran
  nothing; no unknown task ran; every output exists; the scheduler lists all tasks as DONE and none as
  anything else; and each worker's execution summary says it succeeded (the third's with the plain
  success line, having found everything complete).

On the summary: with two workers sharing a DAG, a worker whose pending task was completed by the other
worker while it was busy never sees that task running (Luigi only records other workers' running tasks
from get_work replies that offered it nothing), so Luigi's summary files the task under "was not
granted run permission by the scheduler" and ends with "This progress looks :| because there were
tasks that were not granted run permission by the scheduler" (Luigi's NOT_RUN status). Against
Python's own luigid both workers end that way in practice. That is Luigi's bookkeeping, not a failure,
so a summary is accepted when its verdict is the success line ("This progress looks :) because there
were no failed tasks or missing dependencies") or that NOT_RUN line, provided its numbers reconcile
with the run log (see ``_check_summary``) and it lists nothing as failed, failed scheduling, or missing
or failed dependencies. Any other verdict fails.

Exit status 0 iff all checks pass; a report is printed either way (and written as JSON with --json).
"""

import argparse
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import luigi

HERE = os.path.dirname(os.path.abspath(__file__))

# DAG shape: SOURCES leaves, LAYERS layers of WIDTH Mix tasks, GROUPS Merge tasks, one Root.
SOURCES = 100
WIDTH = 50
LAYERS = 4
GROUPS = 10
EXPECTED_TASKS = SOURCES + WIDTH * LAYERS + GROUPS + 1

# How long each task's run() sleeps: long enough that the two workers' processes really overlap.
RUN_SLEEP_S = 0.02

SUCCESS_LINE = "This progress looks :) because there were no failed tasks or missing dependencies"
NOT_RUN_LINE = "This progress looks :| because there were tasks that were not granted run permission by the scheduler"
BANNER = "===== Luigi Execution Summary ====="

# Summary lines "* <n> <phrase>:" a successful worker may print. The pending ones all mean "another
# worker ran it (or its dependencies)"; anything else (failed, failed scheduling, missing external or
# failed dependencies) fails the check.
SUMMARY_ALREADY_DONE = "complete ones were encountered"
SUMMARY_COMPLETED = "ran successfully"
SUMMARY_PENDING = "were left pending, among these"
SUMMARY_NOT_RUN = "was not granted run permission by the scheduler"
SUMMARY_ALLOWED = {
    SUMMARY_ALREADY_DONE,
    SUMMARY_COMPLETED,
    SUMMARY_PENDING,
    "were being run by another worker",
    "had dependencies that were being run by other worker",
    SUMMARY_NOT_RUN,
}
SUMMARY_CATEGORY = re.compile(r"^\* (\d+) (.+):$")
SUMMARY_SCHEDULED = re.compile(r"^Scheduled (\d+) tasks of which:$")


# --- the pipeline ------------------------------------------------------------------------------------


def _record_execution(root, name):
    """Logs this execution, then claims the task's marker; a second execution raises."""
    line = f"{name} {os.environ.get('E2E_WORKER_LABEL', '?')} {os.getpid()}\n"
    with open(os.path.join(root, "runs.log"), "a") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        try:
            log.write(line)
            log.flush()
        finally:
            fcntl.flock(log, fcntl.LOCK_UN)
    marker = os.path.join(root, "markers", name)
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise RuntimeError(f"{name} is running a second time (marker {marker} exists)") from None
    os.write(fd, line.encode())
    os.close(fd)


class PipelineTask(luigi.Task):
    """Shared behaviour: one output file named after the task, exactly-once bookkeeping in run().

    Subclasses define name(), the short unique name used for the output, the marker and the run log.
    """

    root = luigi.Parameter()

    def output(self):
        return luigi.LocalTarget(os.path.join(self.root, "out", self.name() + ".txt"))

    def run(self):
        _record_execution(self.root, self.name())
        missing = [target.path for target in luigi.task.flatten(self.input()) if not target.exists()]
        if missing:
            raise RuntimeError(f"{self.name()} was started before its inputs existed: {missing}")
        time.sleep(RUN_SLEEP_S)
        with self.output().open("w") as out:
            out.write(self.name() + "\n")


class Source(PipelineTask):
    i = luigi.IntParameter()

    def name(self):
        return f"Source_{self.i}"


class Mix(PipelineTask):
    layer = luigi.IntParameter()
    i = luigi.IntParameter()

    def name(self):
        return f"Mix_{self.layer}_{self.i}"

    def requires(self):
        if self.layer == 1:
            # Two sources of its own plus one shared with a neighbour: sources fan out.
            picks = {2 * self.i, 2 * self.i + 1, (2 * self.i + 7) % SOURCES}
            return [Source(root=self.root, i=j) for j in sorted(picks)]
        picks = {self.i, (self.i + 1) % WIDTH}
        if self.i % 3 == 0:
            picks.add((self.i + WIDTH // 2) % WIDTH)
        return [Mix(root=self.root, layer=self.layer - 1, i=j) for j in sorted(picks)]


class Merge(PipelineTask):
    group = luigi.IntParameter()

    def name(self):
        return f"Merge_{self.group}"

    def requires(self):
        return [Mix(root=self.root, layer=LAYERS, i=i) for i in range(self.group, WIDTH, GROUPS)]


class Root(PipelineTask):
    def name(self):
        return "Root"

    def requires(self):
        merges = [Merge(root=self.root, group=g) for g in range(GROUPS)]
        # A few sources straight into the root as well, so leaves are shared across the whole depth.
        return merges + [Source(root=self.root, i=j) for j in range(0, SOURCES, 25)]


def all_tasks(root):
    """Every task of the DAG, by name, found by walking requires() from Root."""
    seen = {}
    stack = [Root(root=root)]
    while stack:
        task = stack.pop()
        if task.name() in seen:
            continue
        seen[task.name()] = task
        stack.extend(luigi.task.flatten(task.requires()))
    return seen


# --- the driver --------------------------------------------------------------------------------------


# Luigi's command line with the requests transport switched off, for the worker that uses urllib. It
# must not run as this file: the worker would then define the task classes twice (as __main__ and as
# e2e_pipeline), which Luigi's registry rejects as ambiguous.
URLLIB_LUIGI = (
    "import sys, luigi.rpc, luigi.cmdline; luigi.rpc.HAS_REQUESTS = False; luigi.cmdline.luigi_run(sys.argv[1:])"
)


def _start_worker(label, fetcher, root, host, port, workdir):
    log_path = os.path.join(workdir, f"worker-{label}.log")
    env = dict(os.environ)
    env["E2E_WORKER_LABEL"] = label
    env["PYTHONPATH"] = os.pathsep.join(p for p in (HERE, env.get("PYTHONPATH")) if p)
    env.pop("LUIGI_CONFIG_PATH", None)
    env.pop("LUIGI_CONFIG_PARSER", None)
    if fetcher == "requests":
        luigi_command = [os.path.join(os.path.dirname(sys.executable), "luigi")]
    else:
        luigi_command = [sys.executable, "-c", URLLIB_LUIGI]
    argv = luigi_command + [
        "--module",
        "e2e_pipeline",
        "Root",
        "--root",
        root,
        "--scheduler-host",
        host,
        "--scheduler-port",
        str(port),
        "--workers",
        "2",
        "--no-lock",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return {"label": label, "fetcher": fetcher, "process": process, "log": log_path}


def _summary_block(text):
    """The lines between the two summary banners, or None."""
    lines = text.splitlines()
    marks = [n for n, line in enumerate(lines) if line.strip().endswith(BANNER)]
    if len(marks) < 2:
        return None
    return [line.rstrip() for line in lines[marks[0] + 1 : marks[1]]]


def _check_summary(worker, own_runs, other_runs, expected):
    """Problems with one worker's execution summary (empty when it reports success).

    Besides the verdict line, the summary's numbers must match what really happened: "ran
    successfully" counts exactly the tasks this worker ran (per the run log); the tasks it found
    complete or left pending, plus those it never scheduled (they sit below tasks it found complete),
    are exactly as many as the other workers ran; and it accounts for every task it scheduled. That is
    what makes the NOT_RUN verdict acceptable: every task it calls "not granted run permission" was run
    by the other worker.
    """
    with open(worker["log"], encoding="utf-8", errors="replace") as log:
        block = _summary_block(log.read())
    if block is None:
        return ["no execution summary in its log"]
    verdicts = [line.strip() for line in block if line.strip().startswith("This progress looks")]
    if len(verdicts) != 1:
        return [f"expected one verdict line, found {verdicts}"]
    worker["verdict"] = verdict = verdicts[0]
    problems = []
    scheduled = None
    counts = {}
    for line in block:
        stripped = line.strip()
        match = SUMMARY_SCHEDULED.match(stripped)
        if match:
            scheduled = int(match.group(1))
        match = SUMMARY_CATEGORY.match(stripped)
        if match:
            counts[match.group(2)] = int(match.group(1))
            if match.group(2) not in SUMMARY_ALLOWED:
                problems.append(f"summary reports: {stripped}")
    worker["summary_counts"] = counts
    if scheduled is None or not 1 <= scheduled <= expected:
        problems.append(f"summary says it scheduled {scheduled} tasks, the DAG has {expected}")
        return problems
    completed = counts.get(SUMMARY_COMPLETED, 0)
    if completed != own_runs:
        problems.append(f"summary says {completed} ran successfully, the run log has {own_runs}")
    elsewhere = counts.get(SUMMARY_ALREADY_DONE, 0) + counts.get(SUMMARY_PENDING, 0)
    if completed + elsewhere != scheduled:
        problems.append(f"summary accounts for {completed + elsewhere} of the {scheduled} tasks it scheduled")
    # Tasks it never scheduled sit below tasks it found complete; the other worker ran those too.
    if elsewhere + (expected - scheduled) != other_runs:
        problems.append(
            f"summary leaves {elsewhere + expected - scheduled} tasks to others, the other workers ran {other_runs}"
        )
    if verdict == SUCCESS_LINE:
        return problems
    if verdict == NOT_RUN_LINE and counts.get(SUMMARY_NOT_RUN, 0) > 0:
        return problems
    return problems + [f"verdict is not success: {verdict!r}"]


def _scheduler_statuses(url):
    """Counts of the scheduler's tasks per status, through Luigi's own RemoteScheduler."""
    import luigi.rpc

    scheduler = luigi.rpc.RemoteScheduler(url)
    scheduler._rpc_retry_attempts = 1
    counts = {}
    for status in ("PENDING", "RUNNING", "DONE", "FAILED", "DISABLED", "UNKNOWN", "BATCH_RUNNING"):
        listed = scheduler.task_list(status, "")
        # Over max_shown_tasks the scheduler answers with just the count.
        counts[status] = listed["num_tasks"] if set(listed) == {"num_tasks"} else len(listed)
    return counts


def _host_port(url):
    host, _, port = url.split("://", 1)[-1].rstrip("/").rpartition(":")
    return host, port


def _wait_for(workers, deadline, timeout_s, problems):
    for worker in workers:
        try:
            worker["exit_code"] = worker["process"].wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            # The worker's task processes share its session; end them all.
            os.killpg(worker["process"].pid, signal.SIGKILL)
            worker["exit_code"] = worker["process"].wait()
            problems.append(f"worker {worker['label']} did not finish within {timeout_s:.0f} s; killed")


def _read_runs(root):
    """The run log as (task name, worker label) pairs, in order."""
    path = os.path.join(root, "runs.log")
    if not os.path.exists(path):
        return []
    with open(path) as log:
        return [tuple(line.split()[:2]) for line in log if line.strip()]


def _check_worker(worker, own_runs, other_runs, expected, problems, report):
    if worker["exit_code"] != 0:
        problems.append(f"worker {worker['label']} exited with status {worker['exit_code']}")
    summary_problems = _check_summary(worker, own_runs, other_runs, expected)
    problems.extend(f"worker {worker['label']}: {p}" for p in summary_problems)
    report[f"worker_{worker['label']}"] = {
        "fetcher": worker["fetcher"],
        "exit_code": worker["exit_code"],
        "tasks_run": own_runs,
        "verdict": worker.get("verdict"),
        "summary_counts": worker.get("summary_counts"),
        "log": worker["log"],
    }


def run_e2e(urls, root, workdir, timeout_s):
    """Runs the e2e scenario and returns the report ("ok" iff all checks pass).

    Workers A (against urls[0]) and B (against urls[1]) start together on an empty output directory.
    Afterwards worker C runs the same pipeline against urls[0] once more: it must find everything
    complete, run nothing, and report plain success. Normally both URLs are one scheduler; two
    different ones are the harness's self-test.
    """
    url = urls[0]
    os.makedirs(os.path.join(root, "markers"), exist_ok=True)
    os.makedirs(os.path.join(root, "out"), exist_ok=True)
    expected = all_tasks(root)
    report = {"scheduler_url": url, "root": root, "expected_tasks": len(expected), "problems": []}
    problems = report["problems"]
    if len(expected) != EXPECTED_TASKS:
        problems.append(f"the DAG has {len(expected)} tasks, expected {EXPECTED_TASKS}")

    started = time.monotonic()
    deadline = started + timeout_s
    pair = [
        _start_worker("A", "requests", root, *_host_port(urls[0]), workdir),
        _start_worker("B", "urllib", root, *_host_port(urls[1]), workdir),
    ]
    _wait_for(pair, deadline, timeout_s, problems)
    report["seconds"] = round(time.monotonic() - started, 1)
    runs = _read_runs(root)
    for worker in pair:
        own_runs = sum(1 for _name, label in runs if label == worker["label"])
        _check_worker(worker, own_runs, len(runs) - own_runs, len(expected), problems, report)

    late = _start_worker("C", "requests", root, *_host_port(urls[0]), workdir)
    _wait_for([late], time.monotonic() + timeout_s, timeout_s, problems)
    runs_after = _read_runs(root)
    _check_worker(late, len(runs_after) - len(runs), len(runs), len(expected), problems, report)
    if late.get("verdict") not in (None, SUCCESS_LINE):
        problems.append(
            f"worker C, which found the pipeline complete, did not report plain success: {late['verdict']!r}"
        )

    counts = {}
    for name, _label in runs_after:
        counts[name] = counts.get(name, 0) + 1
    twice = sorted(name for name, n in counts.items() if n > 1)
    never = sorted(set(expected) - set(counts))
    unknown = sorted(set(counts) - set(expected))
    if twice:
        problems.append(f"{len(twice)} tasks ran more than once: {twice[:20]}")
    if never:
        problems.append(f"{len(never)} tasks never ran: {never[:20]}")
    if unknown:
        problems.append(f"unknown tasks ran: {unknown[:20]}")
    markers = len(os.listdir(os.path.join(root, "markers")))
    if markers != len(expected):
        problems.append(f"{markers} marker files for {len(expected)} tasks")
    missing_outputs = sorted(name for name, task in expected.items() if not task.output().exists())
    if missing_outputs:
        problems.append(f"{len(missing_outputs)} outputs missing: {missing_outputs[:20]}")

    try:
        statuses = _scheduler_statuses(url)
        report["scheduler_statuses"] = statuses
        if statuses.get("DONE") != len(expected) or any(n for s, n in statuses.items() if s != "DONE"):
            problems.append(f"the scheduler's task list is not all DONE: {statuses}")
    except Exception as exc:  # noqa: BLE001 - any failure to ask the scheduler is a reportable problem
        problems.append(f"could not list the scheduler's tasks: {exc}")

    report["ok"] = not problems
    return report


def _print_report(report):
    print("e2e pipeline against", report["scheduler_url"])
    print(f"  tasks in the DAG: {report['expected_tasks']}, wall time: {report.get('seconds')} s")
    for label in ("A", "B", "C"):
        worker = report.get(f"worker_{label}")
        if worker:
            print(
                f"  worker {label} ({worker['fetcher']}): exit {worker['exit_code']}, ran {worker['tasks_run']} tasks,"
                f" verdict: {worker['verdict']}"
            )
    if "scheduler_statuses" in report:
        print("  scheduler task statuses:", report["scheduler_statuses"])
    if report["ok"]:
        print("e2e: all checks passed")
    else:
        print("e2e: FAILED")
        for problem in report["problems"]:
            print("  -", problem)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Two Python Luigi workers run a ~300-task DAG against one luigid.")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--scheduler-url", help="an already running scheduler, e.g. http://127.0.0.1:8082")
    target.add_argument(
        "--start-luigid",
        action="store_true",
        help="start a luigid for the run ($LUIGID_BIN, else the venv's luigid) and stop it afterwards",
    )
    parser.add_argument("--workdir", help="directory for outputs and logs (default: a new temporary one)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds both workers get to finish")
    parser.add_argument("--json", help="also write the report as JSON here")
    parser.add_argument(
        "--self-test-separate-schedulers",
        action="store_true",
        help="harness self-test (with --start-luigid): give each worker a luigid of its own, so nothing stops"
        " both from running every task; the checks must then fail",
    )
    args = parser.parse_args(argv)

    workdir = args.workdir or tempfile.mkdtemp(prefix="luigi-e2e-")
    os.makedirs(workdir, exist_ok=True)
    root = os.path.join(workdir, "data")
    servers = []
    if args.self_test_separate_schedulers and not args.start_luigid:
        parser.error("--self-test-separate-schedulers needs --start-luigid")
    try:
        if args.start_luigid:
            from luigid_process import Luigid, luigid_command

            for _ in range(2 if args.self_test_separate_schedulers else 1):
                servers.append(Luigid(luigid_command(), {"scheduler": {}}, prefix="luigid-e2e-"))
                servers[-1].start()
            urls = [servers[0].url, servers[-1].url]
        else:
            urls = [args.scheduler_url, args.scheduler_url]
        report = run_e2e(urls, root, workdir, args.timeout)
    finally:
        crashes = [crash for crash in (server.stop() for server in servers) if crash]
    if crashes:
        report["problems"].extend(crashes)
        report["ok"] = False
    else:
        for server in servers:
            server.cleanup()
    report["workdir"] = workdir
    _print_report(report)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
            out.write("\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
