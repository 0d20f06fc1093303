"""The Python half of the interoperability twin pipeline (tests/tests/interop.rs).

The Rust half is tests/src/bin/interop-under-test.rs: the same families with the same
parameter names and types, so a task has the same id in both languages and a Rust worker and
a Python worker sharing one scheduler share its tasks.

- InteropLeaf(root, sleep_ms, i): no requirements.
- InteropPair(root, sleep_ms, n, i): requires InteropLeaf(i) and InteropLeaf((i + 1) % n).
- InteropAll(root, sleep_ms, n): requires InteropPair(0..n); 2n + 1 tasks in all.
- InteropFail(root, message): fails with `message`.

Every run sleeps sleep_ms milliseconds (so workers interleave), appends one line
"<task id> <$INTEROP_WORKER>" to <root>/runs.log (O_APPEND, one write, so lines from
concurrent processes never mix), then writes its output <root>/<task id>.
"""

import os
import time

import luigi


def _record_run(task):
    line = "%s %s\n" % (task.task_id, os.environ.get("INTEROP_WORKER", "python"))
    fd = os.open(os.path.join(task.root, "runs.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


class _InteropTask(luigi.Task):
    root = luigi.Parameter()
    sleep_ms = luigi.IntParameter()

    def output(self):
        return luigi.LocalTarget(os.path.join(self.root, self.task_id))

    def run(self):
        time.sleep(self.sleep_ms / 1000.0)
        _record_run(self)
        with self.output().open("w") as out:
            out.write("done\n")


class InteropLeaf(_InteropTask):
    i = luigi.IntParameter()


class InteropPair(_InteropTask):
    n = luigi.IntParameter()
    i = luigi.IntParameter()

    def requires(self):
        return [
            InteropLeaf(root=self.root, sleep_ms=self.sleep_ms, i=self.i),
            InteropLeaf(root=self.root, sleep_ms=self.sleep_ms, i=(self.i + 1) % self.n),
        ]


class InteropAll(_InteropTask):
    n = luigi.IntParameter()

    def requires(self):
        return [InteropPair(root=self.root, sleep_ms=self.sleep_ms, n=self.n, i=i) for i in range(self.n)]


class InteropFail(luigi.Task):
    root = luigi.Parameter()
    message = luigi.Parameter()

    def output(self):
        return luigi.LocalTarget(os.path.join(self.root, self.task_id))

    def run(self):
        _record_run(self)
        raise RuntimeError(self.message)
