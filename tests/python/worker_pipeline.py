"""The Python twin of tests/src/bin/pipeline-under-test.rs, for the worker tests
(tests/tests/worker_*.rs): the same families with the same parameter names and types, so task
ids, execution summaries, events and exit codes can be compared with Luigi 3.8.1's.

Every run appends "<task id> <what> <pid>" to <root>/runs.log (O_APPEND, one write) and writes its
output <root>/<task id>. When $PIPELINE_EVENTS is set, every event fired in any process is
appended to that file as "<event> <task id>" (plus the dependency's id for
event.core.dependency.discovered). Dynamic requirements (Dyn) have no twin: ours
deliberately differ from Luigi's yield.
"""

import os
import time

import luigi
from luigi.event import Event


def _append(path, line):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _record(task, what):
    _append(os.path.join(task.root, "runs.log"), "%s %s %d" % (task.task_id, what, os.getpid()))


def _wait_for(path):
    deadline = time.time() + 120
    while not os.path.exists(path):
        if time.time() > deadline:
            raise RuntimeError("%s did not appear within 120 s" % path)
        time.sleep(0.02)


class _Base(luigi.Task):
    root = luigi.Parameter()

    def output(self):
        return luigi.LocalTarget(os.path.join(self.root, self.task_id))

    def _finish(self):
        with self.output().open("w") as out:
            out.write("done\n")

    def run(self):
        _record(self, "run")
        self._finish()


class Leaf(_Base):
    i = luigi.IntParameter()


class Sleepy(_Base):
    seconds = luigi.IntParameter()
    timeout = luigi.IntParameter()

    @property
    def worker_timeout(self):
        return self.timeout or None

    def run(self):
        _record(self, "start")
        time.sleep(self.seconds)
        _record(self, "end")
        self._finish()


class Flaky(_Base):
    fail_times = luigi.IntParameter()

    def run(self):
        _record(self, "run")
        with open(os.path.join(self.root, "runs.log")) as log:
            runs = sum(1 for line in log if line.split(" ")[0] == self.task_id)
        if runs <= self.fail_times:
            raise RuntimeError("flaky failure %d" % runs)
        self._finish()


class FlakyRoot(_Base):
    fail_times = luigi.IntParameter()

    def requires(self):
        return Flaky(root=self.root, fail_times=self.fail_times)


class BadComplete(_Base):
    mode = luigi.Parameter()

    def complete(self):
        raise RuntimeError("complete() of BadComplete fails on purpose")


class BadRequires(_Base):
    def requires(self):
        raise RuntimeError("requires() of BadRequires fails on purpose")


class Broken(_Base):
    def requires(self):
        return (Leaf(root=self.root, i=7), BadComplete(root=self.root, mode="panic"), BadRequires(root=self.root))


class Fails(_Base):
    def run(self):
        _record(self, "run")
        raise RuntimeError("this task always fails")


class Ext(luigi.ExternalTask):
    root = luigi.Parameter()
    name = luigi.Parameter()

    def output(self):
        return luigi.LocalTarget(os.path.join(self.root, "ext-" + self.name))


class Mixed(_Base):
    name = luigi.Parameter()

    def requires(self):
        return (
            [Leaf(root=self.root, i=1), Leaf(root=self.root, i=2)],
            Fails(root=self.root),
            Ext(root=self.root, name=self.name),
        )


class Chain(_Base):
    name = luigi.Parameter()

    def requires(self):
        return (Leaf(root=self.root, i=1), Ext(root=self.root, name=self.name))


class Gate(_Base):
    i = luigi.IntParameter()

    def run(self):
        _record(self, "run")
        open(os.path.join(self.root, "started-%d" % self.i), "w").close()
        _wait_for(os.path.join(self.root, "release"))
        self._finish()


class Gates(_Base):
    n = luigi.IntParameter()

    def requires(self):
        return [Gate(root=self.root, i=i) for i in range(self.n)]


class Dies(_Base):
    timeout = luigi.IntParameter()

    @property
    def worker_timeout(self):
        return self.timeout or None

    def run(self):
        _record(self, "run")
        os._exit(3)


def _install_event_recorder():
    path = os.environ.get("PIPELINE_EVENTS")
    if not path:
        return
    events = [
        Event.DEPENDENCY_DISCOVERED,
        Event.DEPENDENCY_MISSING,
        Event.DEPENDENCY_PRESENT,
        Event.BROKEN_TASK,
        Event.START,
        Event.PROGRESS,
        Event.FAILURE,
        Event.SUCCESS,
        Event.PROCESSING_TIME,
        Event.TIMEOUT,
        Event.PROCESS_FAILURE,
    ]

    def recorder(event):
        def handler(task, *args):
            line = "%s %s" % (event, task.task_id)
            if event == Event.DEPENDENCY_DISCOVERED and args:
                line += " " + args[0].task_id
            _append(path, line)

        return handler

    for event in events:
        luigi.Task.event_handler(event)(recorder(event))


_install_event_recorder()
