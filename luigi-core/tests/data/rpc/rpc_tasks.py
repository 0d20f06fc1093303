"""Pipelines that make a real Python Luigi 3.8.1 worker exercise every RPC it can send.

Used by capture.py (see there); not imported by any Rust test. Outputs go under $RPC_CAPTURE_OUT.
"""

import os
import queue
import time

import luigi
from luigi.parameter import ParameterVisibility

OUT = os.environ.get("RPC_CAPTURE_OUT", "/tmp/rpc-capture-out")


def _target(name):
    return luigi.LocalTarget(os.path.join(OUT, name))


def _touch(target, text="ok"):
    with target.open("w") as handle:
        handle.write(text)


class Leaf(luigi.Task):
    i = luigi.IntParameter()

    def output(self):
        return _target("leaf_%d" % self.i)

    def run(self):
        _touch(self.output())


class Mid(luigi.Task):
    """Resources, priority, owners, a retry policy, a hidden and an insignificant parameter."""

    n = luigi.IntParameter()
    secret = luigi.Parameter(default="s3cr3t", visibility=ParameterVisibility.HIDDEN)
    note = luigi.Parameter(default="n\u00f6te </b>", significant=False)
    resources = {"cpu": 1}
    priority = 5
    owner_email = "a@example.com,b@example.com"
    retry_count = 3
    disable_window = 100

    def requires(self):
        return [Leaf(self.n), Leaf(self.n + 1)]

    def output(self):
        return _target("mid_%d" % self.n)

    def run(self):
        _touch(self.output())


class FloatPriority(luigi.Task):
    priority = 2.5

    def output(self):
        return _target("float_priority")

    def run(self):
        _touch(self.output())


class Boom(luigi.Task):
    """Fails once and is then disabled by the scheduler (retry_count 1)."""

    retry_count = 1

    def output(self):
        return _target("boom")

    def run(self):
        raise RuntimeError("boom </script> \u00e9")


class Boom2(luigi.Task):
    """Fails and stays FAILED (scheduler default retry policy)."""

    def output(self):
        return _target("boom2")

    def run(self):
        raise ValueError("second failure")


class Missing(luigi.ExternalTask):
    def output(self):
        return _target("never_there")


class NeedsMissing(luigi.Task):
    def requires(self):
        return Missing()

    def output(self):
        return _target("needs_missing")

    def run(self):
        _touch(self.output())


class BatchMax(luigi.Task):
    """Batchable with the default (infinite) max_batch_size: add_task_batcher sends Infinity."""

    day = luigi.IntParameter(batch_method=max)

    def output(self):
        return _target("batch_max_%d" % self.day)

    def run(self):
        time.sleep(1.0)
        _touch(self.output())


class BatchJoin(luigi.Task):
    """Batchable with a finite max_batch_size; the combined task gets a new id."""

    items = luigi.Parameter(batch_method=",".join)
    max_batch_size = 3

    def output(self):
        return _target("batch_join_%s" % self.items)

    def run(self):
        time.sleep(1.0)
        _touch(self.output())


class Dyn(luigi.Task):
    """Yields a dynamic dependency, so its first report is PENDING with new_deps."""

    def output(self):
        return _target("dyn")

    def run(self):
        yield Leaf(100)
        _touch(self.output())


class Reporter(luigi.Task):
    """Runs first (highest priority) and uses every run-time reporting hook, then waits for a
    scheduler message sent by the capture driver and answers it."""

    priority = 10
    resources = {"cpu": 2, "db": 1}
    accepts_messages = True

    def output(self):
        return _target("reporter")

    def run(self):
        self.set_tracking_url("http://tracking.example/job/1?a=1&b=</x>")
        self.set_status_message("working \u2713")
        self.set_progress_percentage(50)
        self.decrease_running_resources({"cpu": 1})
        deadline = time.time() + 30
        answered = 0
        while time.time() < deadline and answered < 1:
            try:
                message = self.scheduler_messages.get(timeout=0.2)
            except queue.Empty:
                continue
            message.respond("got: %s" % message.content)
            answered += 1
        # Give the driver time to observe the task RUNNING after the reply.
        stop_file = os.path.join(OUT, "reporter_may_finish")
        while time.time() < deadline and not os.path.exists(stop_file):
            time.sleep(0.1)
        self.set_progress_percentage(100)
        _touch(self.output())


class BadComplete(luigi.Task):
    def complete(self):
        raise IOError("cannot check completeness")


class BadRequires(luigi.Task):
    def requires(self):
        raise KeyError("no requirements today")

    def output(self):
        return _target("bad_requires")


class WorkerDisabledTask(luigi.Task):
    @property
    def disabled(self):
        return True

    def output(self):
        return _target("worker_disabled")


class Root(luigi.WrapperTask):
    def requires(self):
        yield Reporter()
        yield Mid(1)
        yield Mid(3, secret="other", note="different")
        yield FloatPriority()
        yield Boom()
        yield Boom2()
        yield NeedsMissing()
        for day in (1, 2, 3):
            yield BatchMax(day=day)
        for item in ("a", "b", "c", "d"):
            yield BatchJoin(items=item)
        yield Dyn()
        yield BadComplete()
        yield BadRequires()
        yield WorkerDisabledTask()


class Waiter(luigi.Task):
    """Never runnable (its dependency is an external task that never completes): keeps a
    keep-alive worker asking for work until the driver disables the worker."""

    tag = luigi.Parameter(default="w")

    def requires(self):
        return Missing()

    def output(self):
        return _target("waiter_%s" % self.tag)

    def run(self):
        _touch(self.output())
