"""Regenerates the execution-summary vectors in this directory from real Python Luigi 3.8.1.

Run it with the venv that has Luigi installed:

    ~/.cache/luigi-rs/venv/bin/python luigi-worker/tests/data/summary/generate.py

Each scenario runs a small real pipeline (an in-process scheduler and one or more workers,
with a mocked scheduler reply where the scenario needs one), then writes `<scenario>.json`
holding what the Rust summary takes as input and what Luigi made of it:

- `add_task_history`: the worker's `_add_task_history`, one entry per `add_task` it sent:
  task id, family, every parameter's string form (private and insignificant ones included,
  so Rust can rebuild the same task), status and the `runnable` flag;
- `get_work_history`: the worker's `_get_work_response_history` (task handed out, and the
  `running_tasks` as task id + worker);
- `deps`: for every task in the history, the ids of `flatten(task._requires())` (the static
  requirements the summary walks), or null when `requires()` raises;
- `summaries`: `LuigiRunResult(worker).summary_text` (what `luigi.build(...,
  detailed_summary=True)` returns) for several `[execution_summary] summary_length` values;
- `status`: the `LuigiStatusCode` name; `categories`: `_summary_dict` as sorted task ids;
- `retcodes`: the exit code `luigi.retcodes.run_with_retcodes` computes for this worker with
  Luigi's shipped `[retcode]` defaults and with the recommended values (null when Luigi
  crashes instead, which it does when nothing was scheduled).

The main worker's id is fixed to `main_worker`; other workers have fixed ids too, so the
files are stable across runs.
"""

import collections
import contextlib
import datetime
import enum
import json
import os
import sys
import threading
import types
from unittest import mock

import luigi
import luigi.execution_summary
import luigi.interface
import luigi.retcodes
import luigi.scheduler
import luigi.task_register
import luigi.worker
from luigi.parameter import ParameterVisibility
from luigi.task import flatten

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
MAIN = "main_worker"
SUMMARY_LENGTHS = (0, 1, 2, 5)
RECOMMENDED = {
    "already_running": 10,
    "missing_data": 20,
    "not_run": 25,
    "task_failed": 30,
    "scheduling_error": 35,
    "unhandled_exception": 40,
}


class RetcodeProbe(luigi.Task):
    """Only gives `run_with_retcodes` a task name to parse its command line with."""


class RunOnceTask(luigi.Task):
    """Complete once it has run in this process (as in Luigi's test helpers)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.comp = False

    def complete(self):
        return self.comp

    def run(self):
        self.comp = True


SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


def new_scheduler():
    return luigi.scheduler.Scheduler(prune_on_get_work=False)


def new_worker(scheduler, worker_id=MAIN, **kwargs):
    return luigi.worker.Worker(scheduler=scheduler, worker_id=worker_id, **kwargs)


class Factory:
    """Lets `luigi.build` use a given scheduler and name its worker."""

    def __init__(self, scheduler):
        self.scheduler = scheduler
        self.worker = None

    def create_local_scheduler(self):
        return self.scheduler

    def create_remote_scheduler(self, url):
        raise AssertionError("scenarios run in process")

    def create_worker(self, scheduler, worker_processes, assistant=False):
        self.worker = new_worker(scheduler, worker_processes=worker_processes, assistant=assistant)
        return self.worker


def build(tasks, scheduler=None, **env):
    """Runs tasks with `luigi.build(..., detailed_summary=True)`; returns the worker."""
    factory = Factory(scheduler or new_scheduler())
    result = luigi.build(tasks, worker_scheduler_factory=factory, detailed_summary=True, local_scheduler=True, **env)
    assert result.worker is factory.worker
    return result.worker


def run_task(worker, task):
    worker.add(task)
    worker.run()
    return worker


@contextlib.contextmanager
def config(section, option, value):
    parser = luigi.configuration.get_config()
    had_section = parser.has_section(section)
    if not had_section:
        parser.add_section(section)
    parser.set(section, option, value)
    try:
        yield
    finally:
        parser.remove_option(section, option)
        if not had_section:
            parser.remove_section(section)


# ---------------------------------------------------------------------------------------------
# Ports of luigi/test/execution_summary_test.py


@scenario
def all_statuses():
    class Bar(luigi.Task):
        num = luigi.IntParameter()

        def run(self):
            if self.num == 0:
                raise ValueError()

        def complete(self):
            return self.num == 1

    class Foo(luigi.Task):
        def requires(self):
            for i in range(5):
                yield Bar(i)

    return build([Foo()])


@scenario
def batch_complete():
    ran = set()

    class MaxBatchTask(luigi.Task):
        param = luigi.IntParameter(batch_method=max)

        def run(self):
            ran.add(self.param)

        def complete(self):
            return any(self.param <= r for r in ran)

    class MaxBatches(luigi.WrapperTask):
        def requires(self):
            return map(MaxBatchTask, range(5))

    return build([MaxBatches()])


@scenario
def batch_fail():
    class MaxBatchFailTask(luigi.Task):
        param = luigi.IntParameter(batch_method=max)

        def run(self):
            assert self.param < 4

        def complete(self):
            return False

    class MaxBatches(luigi.WrapperTask):
        def requires(self):
            return map(MaxBatchFailTask, range(5))

    return build([MaxBatches()])


@scenario
def check_complete_error():
    class Bar(luigi.Task):
        def complete(self):
            raise Exception("complete() is broken")

    class Foo(luigi.Task):
        def requires(self):
            yield Bar()

    return build([Foo()])


@scenario
def not_run_error():
    class Bar(luigi.Task):
        def complete(self):
            return True

    class Foo(luigi.Task):
        def requires(self):
            yield Bar()

    with mock.patch("luigi.scheduler.Scheduler.add_task", lambda *args, **kwargs: None):
        return build([Foo()])


@scenario
def deps_error():
    class Bar(luigi.Task):
        def complete(self):
            return True

    class Foo(luigi.Task):
        def requires(self):
            raise Exception("requires() is broken")

    return build([Foo()])


@scenario
def config_summary_limit():
    class Bar(luigi.Task):
        num = luigi.IntParameter()

        def complete(self):
            return True

    class Biz(Bar):
        pass

    class Bat(Bar):
        pass

    class Wut(Bar):
        pass

    class Foo(luigi.Task):
        def requires(self):
            yield Bat(1)
            yield Wut(1)
            yield Biz(1)
            for i in range(4):
                yield Bar(i)

        def complete(self):
            return False

    return build([Foo()])


@scenario
def upstream_not_running():
    class ExternalBar(luigi.ExternalTask):
        num = luigi.IntParameter()

        def complete(self):
            return self.num == 1

    class Bar(luigi.Task):
        num = luigi.IntParameter()

        def run(self):
            if self.num == 0:
                raise ValueError()

    class Foo(luigi.Task):
        def requires(self):
            for i in range(5):
                yield ExternalBar(i)
                yield Bar(i)

    return build([Foo()])


@scenario
def already_running():
    lock1 = threading.Lock()
    lock2 = threading.Lock()

    class ParentTask(RunOnceTask):
        def requires(self):
            yield LockTask()

    class LockTask(RunOnceTask):
        def run(self):
            lock2.release()
            lock1.acquire()
            self.comp = True

    scheduler = new_scheduler()
    lock1.acquire()
    lock2.acquire()
    other = new_worker(scheduler, "other_worker")
    other.add(ParentTask())
    thread = threading.Thread(target=other.run)
    thread.start()
    lock2.acquire()
    worker = run_task(new_worker(scheduler), ParentTask())
    lock1.release()
    thread.join()
    return worker


@scenario
def already_running_2():
    class AlreadyRunningTask(luigi.Task):
        def run(self):
            pass

    scheduler = new_scheduler()
    other = new_worker(scheduler, "other_worker")
    other.add(AlreadyRunningTask())
    real = luigi.scheduler.Scheduler.get_work

    def get_work(*args, **kwargs):
        as_other = dict(kwargs, worker="other_worker")
        real(*args, **as_other)
        return real(*args, **kwargs)

    with mock.patch("luigi.scheduler.Scheduler.get_work", get_work):
        return run_task(new_worker(scheduler), AlreadyRunningTask())


@scenario
def not_run():
    class AlreadyRunningTask(luigi.Task):
        def run(self):
            pass

    scheduler = new_scheduler()
    other = new_worker(scheduler, "other_worker")
    other.add(AlreadyRunningTask())
    real = luigi.scheduler.Scheduler.get_work

    def get_work(*args, **kwargs):
        kwargs["current_tasks"] = None
        real(*args, **kwargs)
        return real(*args, **kwargs)

    with mock.patch("luigi.scheduler.Scheduler.get_work", get_work):
        return run_task(new_worker(scheduler), AlreadyRunningTask())


@scenario
def somebody_else_finish_task():
    class SomeTask(RunOnceTask):
        pass

    scheduler = new_scheduler()
    worker = new_worker(scheduler)
    other = new_worker(scheduler, "other_worker")
    worker.add(SomeTask())
    other.add(SomeTask())
    other.run()
    worker.run()
    return worker


@scenario
def somebody_else_disables_task():
    class SomeTask(luigi.Task):
        def complete(self):
            return False

        def run(self):
            raise ValueError()

    scheduler = new_scheduler()
    worker = new_worker(scheduler)
    other = new_worker(scheduler, "other_worker")
    worker.add(SomeTask())
    other.add(SomeTask())
    other.run()
    worker.run()
    return worker


@scenario
def larger_tree():
    class Dog(RunOnceTask):
        def requires(self):
            yield Cat(2)

    class Cat(luigi.Task):
        num = luigi.IntParameter()

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.comp = False

        def run(self):
            if self.num == 2:
                raise ValueError()
            self.comp = True

        def complete(self):
            return True if self.num == 1 else self.comp

    class Bar(RunOnceTask):
        num = luigi.IntParameter()

        def requires(self):
            if self.num == 0:
                yield ExternalBar()
                yield Cat(0)
            if self.num == 1:
                yield Cat(0)
                yield Cat(1)
            if self.num == 2:
                yield Dog()

    class Foo(luigi.Task):
        def requires(self):
            for i in range(3):
                yield Bar(i)

    class ExternalBar(luigi.ExternalTask):
        def complete(self):
            return False

    return build([Foo()])


@scenario
def with_dates():
    start = datetime.date(1998, 3, 23)

    class Bar(RunOnceTask):
        date = luigi.DateParameter()

    class Foo(luigi.Task):
        def requires(self):
            for i in range(10):
                yield Bar(date=start + datetime.timedelta(days=i))

    return build([Foo()])


@scenario
def with_ranges_minutes():
    start = datetime.datetime(1998, 3, 23, 1, 50)

    class Bar(RunOnceTask):
        time = luigi.DateMinuteParameter()

    class Foo(luigi.Task):
        def requires(self):
            for i in range(300):
                yield Bar(time=start + datetime.timedelta(minutes=i))

    return build([Foo()])


@scenario
def with_ranges_one_param():
    class Bar(RunOnceTask):
        num = luigi.IntParameter()

    class Foo(luigi.Task):
        def requires(self):
            for i in range(11):
                yield Bar(i)

    return build([Foo()])


@scenario
def with_ranges_multiple_params():
    class Bar(RunOnceTask):
        num1 = luigi.IntParameter()
        num2 = luigi.IntParameter()
        num3 = luigi.IntParameter()

    class Foo(luigi.Task):
        def requires(self):
            for i in range(5):
                yield Bar(5, i, 25)

    return build([Foo()])


@scenario
def with_two_tasks():
    class Bar(RunOnceTask):
        num = luigi.IntParameter()
        num2 = luigi.IntParameter()

    class Foo(luigi.Task):
        def requires(self):
            for i in range(2):
                yield Bar(i, 2 * i)

    return build([Foo()])


@scenario
def really_long_param_name():
    class Bar(RunOnceTask):
        This_is_a_really_long_parameter_that_we_should_not_print_out_because_people_will_get_annoyed = luigi.IntParameter()

    class Foo(luigi.Task):
        def requires(self):
            yield Bar(0)

    return build([Foo()])


@scenario
def multiple_params_multiple_same_task_family():
    class Bar(RunOnceTask):
        num = luigi.IntParameter()
        num2 = luigi.IntParameter()

    class Foo(luigi.Task):
        def requires(self):
            for i in range(4):
                yield Bar(i, 2 * i)

    return build([Foo()])


@scenario
def sad_smiley_face():
    class ExternalBar(luigi.ExternalTask):
        def complete(self):
            return False

    class Bar(luigi.Task):
        num = luigi.IntParameter()

        def run(self):
            if self.num == 0:
                raise ValueError()

    class Foo(luigi.Task):
        def requires(self):
            for i in range(5):
                yield Bar(i)
            yield ExternalBar()

    return build([Foo()])


@scenario
def neutral_smiley_face():
    class ExternalBar(luigi.ExternalTask):
        def complete(self):
            return False

    class Foo(luigi.Task):
        def requires(self):
            yield ExternalBar()

    return build([Foo()])


@scenario
def did_not_run_any_tasks():
    class ExternalBar(luigi.ExternalTask):
        num = luigi.IntParameter()

        def complete(self):
            return self.num == 5

    class Foo(luigi.Task):
        def requires(self):
            for i in range(10):
                yield ExternalBar(i)

    return build([Foo()])


@scenario
def example():
    class MyExternal(luigi.ExternalTask):
        def complete(self):
            return False

    class Boom(luigi.Task):
        this_is_a_really_long_I_mean_way_too_long_and_annoying_parameter = luigi.IntParameter()

        def requires(self):
            for i in range(5, 200):
                yield Bar(i)

    class Foo(luigi.Task):
        num = luigi.IntParameter()
        num2 = luigi.IntParameter()

        def requires(self):
            yield MyExternal()
            yield Boom(0)

    class Bar(luigi.Task):
        num = luigi.IntParameter()

        def complete(self):
            return True

    class DateTask(luigi.Task):
        date = luigi.DateParameter()
        num = luigi.IntParameter()

        def requires(self):
            yield MyExternal()
            yield Boom(0)

    class EntryPoint(luigi.Task):
        def requires(self):
            for i in range(10):
                yield Foo(100, 2 * i)
            for i in range(10):
                yield DateTask(datetime.date(1998, 3, 23) + datetime.timedelta(days=i), 5)

    return build([EntryPoint()])


@scenario
def with_datehours():
    start = datetime.datetime(1998, 3, 23, 5)

    class Bar(RunOnceTask):
        datehour = luigi.DateHourParameter()

    class Foo(luigi.Task):
        def requires(self):
            for i in range(10):
                yield Bar(datehour=start + datetime.timedelta(hours=i))

    return build([Foo()])


@scenario
def with_months():
    start = datetime.datetime(1998, 3, 23)

    class Bar(RunOnceTask):
        month = luigi.MonthParameter()

    class Foo(luigi.Task):
        def requires(self):
            for i in range(3):
                yield Bar(month=start + datetime.timedelta(days=30 * i))

    return build([Foo()])


@scenario
def multiple_dash_dash_workers():
    class Foo(RunOnceTask):
        pass

    return build([Foo()], workers=2)


@scenario
def with_uncomparable_parameters():
    class Color(enum.Enum):
        red = 1
        yellow = 2

    class Bar(RunOnceTask):
        eparam = luigi.EnumParameter(enum=Color)

    class Baz(RunOnceTask):
        eparam = luigi.EnumParameter(enum=Color)
        another_param = luigi.IntParameter()

    class Foo(luigi.Task):
        def requires(self):
            yield Bar(Color.red)
            yield Bar(Color.yellow)
            yield Baz(Color.red, 5)
            yield Baz(Color.yellow, 5)

    return build([Foo()])


@scenario
def with_dict_dependency():
    start = datetime.date(1998, 3, 23)

    class Bar(RunOnceTask):
        args = luigi.DictParameter()

    class Foo(luigi.Task):
        def requires(self):
            for i in range(10):
                yield Bar(args={"start": str(start + datetime.timedelta(days=i)), "num": 3})

    return build([Foo()])


@scenario
def with_dict_argument():
    class Bar(RunOnceTask):
        args = luigi.DictParameter()

    return build([Bar(args={"start": "1998-03-23", "num": 3})])


@scenario
def status_with_task_retry():
    class Foo(luigi.Task):
        run_count = 0

        def run(self):
            self.run_count += 1
            if self.run_count == 1:
                raise ValueError()

        def complete(self):
            return self.run_count > 0

    worker = new_worker(new_scheduler())
    run_task(worker, Foo())
    run_task(worker, Foo())
    return worker


# ---------------------------------------------------------------------------------------------
# Ports of luigi/test/retcodes_test.py that depend on the summary


@scenario
def retcode_task_failed():
    class FailingTask(luigi.Task):
        def run(self):
            raise ValueError()

    return build([FailingTask()])


@scenario
def retcode_missing_data():
    class MissingDataTask(luigi.ExternalTask):
        def complete(self):
            return False

    return build([MissingDataTask()])


@scenario
def retcode_already_running():
    class AlreadyRunningTask(luigi.Task):
        def run(self):
            pass

    real = luigi.scheduler.Scheduler.get_work

    def get_work(*args, **kwargs):
        kwargs["current_tasks"] = None
        real(*args, **kwargs)
        reply = real(*args, **kwargs)
        reply["running_tasks"][0]["worker"] = "not me :)"
        return reply

    with mock.patch("luigi.scheduler.Scheduler.get_work", get_work):
        return build([AlreadyRunningTask()])


@scenario
def retcode_failure_in_complete():
    class FailingComplete(luigi.Task):
        def complete(self):
            raise Exception("complete() is broken")

    class RequiringTask(luigi.Task):
        def requires(self):
            yield FailingComplete()

    return build([RequiringTask()])


@scenario
def retcode_failure_in_requires():
    class FailingRequires(luigi.Task):
        def requires(self):
            raise Exception("requires() is broken")

    return build([FailingRequires()])


@scenario
def retcode_task_limit():
    class TaskB(luigi.Task):
        def complete(self):
            return False

    class TaskA(luigi.Task):
        def requires(self):
            yield TaskB()

    class TaskLimitTest(luigi.Task):
        def requires(self):
            yield TaskA()

    with config("worker", "task_limit", "2"):
        return build([TaskLimitTest()])


@scenario
def retcode_mixed_errors():
    class FailingTask(luigi.Task):
        def run(self):
            raise ValueError()

    class MissingDataTask(luigi.ExternalTask):
        def complete(self):
            return False

    class RequiringTask(luigi.Task):
        def requires(self):
            yield FailingTask()
            yield MissingDataTask()

    return build([RequiringTask()])


@scenario
def retcode_unknown_reason():
    class TaskA(luigi.Task):
        def complete(self):
            return True

    class RequiringTask(luigi.Task):
        def requires(self):
            yield TaskA()

    with mock.patch("luigi.scheduler.Scheduler.add_task", lambda *args, **kwargs: None):
        return build([RequiringTask()])


# ---------------------------------------------------------------------------------------------
# More shapes: every category and layout rule


@scenario
def nothing_scheduled():
    return build([])


@scenario
def everything_already_done():
    class Done(luigi.Task):
        num = luigi.IntParameter()

        def complete(self):
            return True

    class Root(luigi.WrapperTask):
        def requires(self):
            return [Done(i) for i in range(3)]

    return build([Root()])


@scenario
def dynamic_dependencies():
    """The layout example of the inventory: static and dynamic deps, a failure, a missing input."""

    class A(RunOnceTask):
        n = luigi.IntParameter()

    class Dyn(RunOnceTask):
        def run(self):
            yield A(n=99)
            self.comp = True

    class Fails(luigi.Task):
        def run(self):
            raise ValueError("boom")

    class Ext(luigi.ExternalTask):
        name = luigi.Parameter()

        def complete(self):
            return False

    class Root(luigi.Task):
        def requires(self):
            return [A(n=1), A(n=2), Dyn(), Fails(), Ext(name="missing")]

    return build([Root()])


@scenario
def many_families():
    """Seven families in one category and in a pending sub-category, past summary_length."""

    names = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf"]
    done = {name: type(name, (RunOnceTask,), {"num": luigi.IntParameter()}) for name in names}
    missing = {name: type("Ext" + name, (luigi.ExternalTask,), {"complete": lambda self: False}) for name in names}

    class Root(luigi.Task):
        def requires(self):
            return [done[name](i) for name in names for i in range(2)] + [missing[name]() for name in names]

    return build([Root()])


@scenario
def range_thresholds():
    """Where ranges start: more than 3 values for one parameter, more than 2 when one of several varies."""

    class Three(RunOnceTask):
        n = luigi.IntParameter()

    class Four(RunOnceTask):
        n = luigi.IntParameter()

    class Gap(RunOnceTask):
        n = luigi.IntParameter()

    class Lexical(RunOnceTask):
        n = luigi.IntParameter()

    class Pair(RunOnceTask):
        a = luigi.Parameter()
        b = luigi.IntParameter()

    class PairTwo(RunOnceTask):
        a = luigi.Parameter()
        b = luigi.IntParameter()

    class BothVary(RunOnceTask):
        a = luigi.IntParameter()
        b = luigi.IntParameter()

    class Weekly(RunOnceTask):
        week = luigi.DateParameter(interval=7)

    class Yearly(RunOnceTask):
        year = luigi.YearParameter()

    class Root(luigi.Task):
        def requires(self):
            yield from (Three(n) for n in (1, 2, 3))
            yield from (Four(n) for n in (7, 8, 9, 10))
            yield from (Gap(n) for n in (1, 2, 3, 5))
            yield from (Lexical(n) for n in (1, 2, 10, 11, 20))
            yield from (Pair("x", b) for b in (1, 2, 3))
            yield from (PairTwo("x", b) for b in (1, 2))
            yield from (BothVary(i, i) for i in (1, 2, 3))
            yield from (Weekly(datetime.date(2024, 1, 1) + datetime.timedelta(days=7 * i)) for i in range(5))
            yield from (Yearly(datetime.date(2020 + i, 1, 1)) for i in range(4))

    return build([Root()])


@scenario
def long_values():
    """Value lists cut after 30 characters or 200 characters, and tasks too long to print."""

    class Ints(RunOnceTask):
        n = luigi.IntParameter()

    class Words(RunOnceTask):
        word = luigi.Parameter()

    class Huge(RunOnceTask):
        text = luigi.Parameter()

    class Wide(RunOnceTask):
        text = luigi.Parameter()

    class TwoWide(RunOnceTask):
        a = luigi.Parameter()
        b = luigi.Parameter()

    class LongNames(RunOnceTask):
        first_rather_long_parameter_name = luigi.IntParameter()
        second_long_name = luigi.IntParameter()

    class Unicode(RunOnceTask):
        word = luigi.Parameter()

    class Root(luigi.Task):
        def requires(self):
            yield from (Ints(n) for n in range(0, 40, 2))
            yield from (Words(w) for w in ("apple", "banana", "cherry", "damson", "elder", "fig", "grape"))
            yield from (Huge(c * 150) for c in "abc")
            yield Wide("w" * 200)
            yield from (TwoWide("a" * 100, b) for b in ("1", "2"))
            yield from (LongNames(i, 0) for i in (1, 2))
            # Lengths count characters, not UTF-8 bytes: the first three values make 28.
            yield from (Unicode(w) for w in ("déjà-vu!", "ménagerie", "naïveté!", "zèbre", "éclair", "über"))

    return build([Root()])


@scenario
def length_thresholds():
    """Each length limit met exactly and passed by one."""

    def family(name, **params):
        return type(name, (RunOnceTask,), {key: luigi.Parameter() for key in params})

    Cut29 = family("Cut29", v=1)  # 9+1 + 9+1 + 8+1 = 29 characters after three values: no cut
    Cut30 = family("Cut30", v=1)  # 30 characters after three values: cut
    Cut200 = family("Cut200", v=1)  # 200 characters after two values: no cut yet
    Cut201 = family("Cut201", v=1)  # 201 characters after two values: cut
    ReprA = family("ReprA", text=1)  # a task text of exactly 200 characters
    ReprB = family("ReprB", text=1)  # 201 characters
    Names60 = type("Names60", (RunOnceTask,), {"n" * 60: luigi.IntParameter()})
    Names61 = type("Names61", (RunOnceTask,), {"n" * 61: luigi.IntParameter()})
    PairNames40 = type("PairNames40", (RunOnceTask,), {"a" * 20: luigi.IntParameter(), "b" * 20: luigi.IntParameter()})
    PairNames41 = type("PairNames41", (RunOnceTask,), {"a" * 21: luigi.IntParameter(), "b" * 20: luigi.IntParameter()})
    PairText100 = family("PairText100", a=1, b=1)  # "PairText100(a=" + 80 + ", b=1)" = 100 characters
    PairText101 = family("PairText101", a=1, b=1)

    class Root(luigi.Task):
        def requires(self):
            yield from (Cut29(v) for v in ("a" * 9, "b" * 9, "c" * 8, "d", "e"))
            yield from (Cut30(v) for v in ("a" * 9, "b" * 9, "c" * 9, "d", "e"))
            yield from (Cut200(v) for v in ("a" * 99, "b" * 99, "c", "d", "e"))
            yield from (Cut201(v) for v in ("a" * 100, "b" * 99, "c", "d", "e"))
            yield ReprA("r" * 188)
            yield ReprB("r" * 189)
            yield Names60(1)
            yield Names61(1)
            yield from (PairNames40(i, 0) for i in (1, 2))
            yield from (PairNames41(i, 0) for i in (1, 2))
            yield from (PairText100("x" * 80, b) for b in ("1", "2"))
            yield from (PairText101("x" * 81, b) for b in ("1", "2"))

    return build([Root()])


@scenario
def hidden_private_insignificant():
    """Ranges print every parameter; task lines print only the significant ones."""

    class Report(RunOnceTask):
        date = luigi.DateParameter()
        kind = luigi.Parameter()
        note = luigi.Parameter(significant=False, default="n")
        secret = luigi.Parameter(visibility=ParameterVisibility.PRIVATE, default="s")
        token = luigi.Parameter(visibility=ParameterVisibility.HIDDEN, default="t")

    class Pairing(RunOnceTask):
        date = luigi.DateParameter()
        kind = luigi.Parameter()
        note = luigi.Parameter(significant=False, default="n")
        secret = luigi.Parameter(visibility=ParameterVisibility.PRIVATE, default="s")

    class Single(RunOnceTask):
        kind = luigi.Parameter()
        note = luigi.Parameter(significant=False, default="n")

    class Root(luigi.Task):
        def requires(self):
            yield from (Report(datetime.date(2024, 1, 1) + datetime.timedelta(days=i), "x") for i in range(4))
            yield from (Pairing(datetime.date(2024, 2, 1), k) for k in ("y", "z"))
            yield Single("only")

    return build([Root()])


@scenario
def non_enumerable_types():
    """Luigi's optional, choice and numerical parameters never collapse into ranges."""

    class Opt(RunOnceTask):
        n = luigi.OptionalIntParameter()

    class Num(RunOnceTask):
        n = luigi.NumericalParameter(var_type=int, min_value=0, max_value=100)

    class Choice(RunOnceTask):
        n = luigi.ChoiceParameter(var_type=int, choices=[1, 2, 3, 4, 5])

    class Flt(RunOnceTask):
        x = luigi.FloatParameter()

    class Root(luigi.Task):
        def requires(self):
            for n in (1, 2, 3, 4, 5):
                yield Opt(n)
                yield Num(n)
                yield Choice(n)
                yield Flt(float(n))

    return build([Root()])


@scenario
def failed_and_scheduling_failed():
    class Broken(luigi.Task):
        def complete(self):
            raise Exception("complete() is broken")

    class Fails(luigi.Task):
        n = luigi.IntParameter()

        def run(self):
            raise ValueError()

    class Root(luigi.Task):
        def requires(self):
            return [Broken(), Fails(1), Fails(2)]

    return build([Root()])


@scenario
def upstream_chains():
    """Pending categories inherited through chains: failure, missing data, scheduling error."""

    class Fails(luigi.Task):
        def run(self):
            raise ValueError()

    class Missing(luigi.ExternalTask):
        def complete(self):
            return False

    class Broken(luigi.Task):
        def complete(self):
            raise Exception("complete() is broken")

    class Mid(luigi.Task):
        kind = luigi.Parameter()

        def requires(self):
            return {"fails": Fails(), "missing": Missing(), "broken": Broken()}[self.kind]

    class Top(luigi.Task):
        kind = luigi.Parameter()

        def requires(self):
            return Mid(self.kind)

    class Root(luigi.WrapperTask):
        def requires(self):
            return [Top("fails"), Top("missing"), Top("broken")]

    return build([Root()])


@scenario
def other_workers():
    """Tasks blocked by six other workers (the summary names four), plus ignored entries."""

    class Leaf(RunOnceTask):
        n = luigi.IntParameter()

    class Other(RunOnceTask):
        pass

    class Root(luigi.Task):
        def requires(self):
            return [Leaf(n) for n in range(7)] + [Other()]

    real = luigi.scheduler.Scheduler.get_work

    def get_work(self, *args, **kwargs):
        reply = real(self, *args, **kwargs)
        leaves = [Leaf(n).task_id for n in range(7)]
        running = [{"task_id": leaves[i], "worker": "w%d" % (i % 6)} for i in range(7)]
        running.append({"task_id": Other().task_id, "worker": "w0"})
        running.append({"task_id": Root().task_id, "worker": MAIN})
        running.append({"task_id": "Unknown__99914b932b", "worker": "w9"})
        return dict(reply, task_id=None, running_tasks=running)

    with mock.patch("luigi.scheduler.Scheduler.get_work", get_work):
        return build([Root()])


@scenario
def other_workers_five():
    """Five other workers are all named; a worker is placed where its first task of ours appears."""

    class Leaf(RunOnceTask):
        n = luigi.IntParameter()

    class Root(luigi.Task):
        def requires(self):
            return [Leaf(n) for n in range(5)]

    real = luigi.scheduler.Scheduler.get_work

    def get_work(self, *args, **kwargs):
        reply = real(self, *args, **kwargs)
        running = [{"task_id": "Unknown__99914b932b", "worker": "w4"}]
        running += [{"task_id": Leaf(n).task_id, "worker": "w%d" % n} for n in range(5)]
        return dict(reply, task_id=None, running_tasks=running)

    with mock.patch("luigi.scheduler.Scheduler.get_work", get_work):
        return build([Root()])


@scenario
def other_workers_and_success():
    """Something ran and another worker blocked something else."""

    class Mine(RunOnceTask):
        priority = 10  # handed out first, so it runs before the scheduler offers Theirs

    class Theirs(RunOnceTask):
        pass

    class Root(luigi.WrapperTask):
        def requires(self):
            return [Mine(), Theirs()]

    real = luigi.scheduler.Scheduler.get_work

    def get_work(self, *args, **kwargs):
        reply = real(self, *args, **kwargs)
        if reply.get("task_id") == Theirs().task_id:
            running = [{"task_id": Theirs().task_id, "worker": "other_worker"}]
            return dict(reply, task_id=None, running_tasks=running)
        return reply

    with mock.patch("luigi.scheduler.Scheduler.get_work", get_work):
        return build([Root()])


# ---------------------------------------------------------------------------------------------


def task_params(task):
    return {name: param.serialize(getattr(task, name)) for name, param in task.get_params()}


def task_deps(task):
    try:
        return [dep.task_id for dep in flatten(task._requires())]
    except Exception:
        return None


def retcode_for(worker, flags):
    argv = ["RetcodeProbe"]
    for name, value in flags.items():
        argv += ["--retcode-" + name.replace("_", "-"), str(value)]
    with mock.patch("luigi.interface._run", lambda argv: types.SimpleNamespace(worker=worker)):
        try:
            luigi.retcodes.run_with_retcodes(argv)
        except SystemExit as exit:
            return exit.code
        except IndexError:
            # `_root_task` indexes the first add_task of an empty history.
            return None
    raise AssertionError("run_with_retcodes returned without exiting")


def record(name, description, worker):
    history = worker._add_task_history
    tasks = collections.OrderedDict()
    for task, _, _ in history:
        tasks.setdefault(task.task_id, task)
    summaries = {}
    for length in SUMMARY_LENGTHS:
        with config("execution_summary", "summary_length", str(length)):
            summaries[str(length)] = luigi.execution_summary.LuigiRunResult(worker).summary_text
    summary_dict = luigi.execution_summary._summary_dict(worker)
    return {
        "name": name,
        "description": description,
        "worker_id": worker._id,
        "add_task_history": [
            {
                "task_id": task.task_id,
                "family": task.task_family,
                "params": task_params(task),
                "status": status,
                "runnable": bool(runnable),
            }
            for task, status, runnable in history
        ],
        "get_work_history": [
            {
                "task_id": reply["task_id"],
                "running_tasks": [{"task_id": r["task_id"], "worker": r["worker"]} for r in reply["running_tasks"]],
            }
            for reply in worker._get_work_response_history
        ],
        "deps": {task_id: task_deps(task) for task_id, task in tasks.items()},
        "summaries": summaries,
        "status": luigi.execution_summary._tasks_status(summary_dict).name,
        "categories": {category: sorted(t.task_id for t in members) for category, members in summary_dict.items()},
        "retcodes": {
            "luigi_defaults": retcode_for(worker, {}),
            "recommended": retcode_for(worker, RECOMMENDED),
        },
    }


def to_json(data):
    """Pretty JSON with one line per history record and per dependency list, to keep diffs readable."""

    def dump(value):
        return json.dumps(value, ensure_ascii=False)

    def lines(items):
        return "[" + ",".join("\n  " + item for item in items) + ("\n ]" if items else "]")

    parts = []
    for key, value in data.items():
        if key in ("add_task_history", "get_work_history"):
            text = lines([dump(item) for item in value])
        elif key in ("deps", "summaries", "categories"):
            text = "{" + ",".join("\n  " + dump(k) + ": " + dump(v) for k, v in value.items()) + ("\n }" if value else "}")
        else:
            text = dump(value)
        parts.append("\n " + dump(key) + ": " + text)
    return "{" + ",".join(parts) + "\n}\n"


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Luigi walks sets of tasks whose order depends on string hashing; fix it so that
        # regenerating gives the same files.
        os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, PYTHONHASHSEED="0"))
    if os.environ.get("LUIGI_CONFIG_PATH"):
        sys.exit("unset LUIGI_CONFIG_PATH: the scenarios assume Luigi's defaults")
    os.chdir(OUT_DIR)  # no luigi.cfg here, so none is picked up from the caller's directory
    wanted = set(sys.argv[1:])
    for fn in SCENARIOS:
        if wanted and fn.__name__ not in wanted:
            continue
        stash = luigi.task_register.Register._get_reg()
        luigi.task_register.Register.clear_instance_cache()
        try:
            worker = fn()
            data = record(fn.__name__, (fn.__doc__ or "").strip() or None, worker)
        finally:
            luigi.task_register.Register._set_reg(stash)
            luigi.task_register.Register.clear_instance_cache()
        with open(os.path.join(OUT_DIR, fn.__name__ + ".json"), "w") as out:
            out.write(to_json(data))
        print(fn.__name__, data["status"], data["retcodes"])


if __name__ == "__main__":
    main()
