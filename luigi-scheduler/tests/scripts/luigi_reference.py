"""Runs the engine scripts against real Python Luigi 3.8.1 to produce their expected output.

Usage: python luigi_reference.py [script.txt ...]   (default: every *.txt beside this file)

Each script is executed against Luigi's own in-process ``luigi.scheduler.Scheduler`` with a
patched clock, and the file is rewritten with Luigi's replies (``< `` lines) and a snapshot
of Luigi's internal state (``| `` lines) in the same format the Rust engine's
``debug_snapshot`` uses. The Rust test (tests/engine_scripts.rs) then requires our engine to
produce exactly these lines, so every transcript is a differential test against Luigi.

Replies are canonicalised the same way on both sides: object keys sorted, ``deps`` lists
sorted, ``running_tasks`` sorted by task id, random message ids replaced, because Luigi
builds those from Python sets and dicts whose order carries no meaning; ``graph`` replies lose
``display_name``, whose placement depends on Python's string-hash order.
"""

import glob
import json
import os
import sys
import time

import luigi.scheduler as S

TEST_CONFIG = {
    "retry_delay": 100,
    "remove_delay": 1000,
    "worker_disconnect_delay": 10,
    "disable_persist": 10,
    "disable_window": 10,
    "retry_count": 3,
    "disable_hard_timeout": 60 * 60,
    "stable_done_cooldown_secs": 0,
}

NOW = [0.0]
time.time = lambda: NOW[0]


def _get_tasks(self, state, *statuses):
    # Luigi picks between two equivalent iterations here; one walks a Python set of task
    # objects, whose order follows memory addresses. Always take the deterministic one (the
    # status dict, in the order tasks entered their status) so ties resolve reproducibly.
    return filter(lambda task: self.id in task.workers, state.get_active_tasks_by_status(*statuses))


S.Worker.get_tasks = _get_tasks


def canonical(value):
    if isinstance(value, dict):
        out = {}
        for key in sorted(value, key=str):
            item = canonical(value[key])
            if key == "deps" and isinstance(item, list):
                item = sorted(item)
            if key == "running_tasks" and isinstance(item, list):
                item = sorted(item, key=lambda entry: entry.get("task_id", ""))
            if key == "message_id" and isinstance(item, str):
                item = "<uuid>"
            out[str(key)] = item
        return out
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, float) and value == int(value) and abs(value) < 1e15:
        return value
    return value


def reply_text(method, value, fields):
    if method == "graph" and isinstance(value, dict):
        # Which tasks are traversal roots (and keep display_name) depends on the order Luigi
        # created placeholders in, which follows Python's string hashing; compare without it.
        value = {k: {kk: vv for kk, vv in v.items() if kk != "display_name"} for k, v in value.items()}
    if fields is not None:
        value = {f: (value or {}).get(f) for f in fields}
    value = canonical(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def num(value):
    return repr(float(value))


def snapshot(sch):
    state = sch._state
    lines = []
    tasks = sorted(state._tasks.values(), key=lambda t: t.id)
    for task in tasks:
        line = "task %s %s" % (task.id, task.status)
        if task.family:
            line += " family=%s" % task.family
        if task.priority != 0:
            line += " priority=%s" % json.dumps(task.priority)
        line += " time=%s updated=%s" % (num(task.time), num(task.updated))
        if task.deps:
            unmet = sum(1 for d in task.deps if not state.has_task(d) or state.get_task(d).status != S.DONE)
            line += " deps=%s unmet=%d" % (",".join(sorted(task.deps)), unmet)
        if task.workers:
            line += " workers=%s" % ",".join(task.workers)
        if task.stakeholders:
            line += " stake=%s" % ",".join(sorted(task.stakeholders))
        if task.worker_running:
            line += " running=%s" % task.worker_running
        if task.retry is not None:
            line += " retry=%s" % num(task.retry)
        if task.remove is not None:
            line += " remove=%s" % num(task.remove)
        if task.scheduler_disable_time is not None:
            line += " disabled_at=%s" % num(task.scheduler_disable_time)
        if task.failures or task.first_failure_time is not None:
            line += " failures=%d" % len(task.failures)
        if task.batch_id:
            line += " batch=%s" % task.batch_id[:8]
        if task.resources:
            line += " resources=%s" % ",".join("%s:%s" % (k, v) for k, v in task.resources.items())
        lines.append(line)
    for worker in sorted(state._active_workers.values(), key=lambda w: w.id):
        pending = unique = last = 0
        for task in state._tasks.values():
            if worker.id in task.workers and task.status in (S.PENDING, S.FAILED):
                pending += 1
                unique += int(len(task.workers) == 1)
                last += int(task.workers.peek(last=True) == worker.id)
        ready = [
            t for t in state._status_tasks[S.PENDING].values() if worker.id in t.workers and sch._schedulable(t)
        ]
        ready.sort(key=lambda t: (-t.priority, t.time))
        line = "worker %s %s last_active=%s pending=%d unique=%d last=%d" % (
            worker.id,
            "active" if worker.enabled else "disabled",
            num(worker.last_active),
            pending,
            unique,
            last,
        )
        if ready:
            line += " ready=%s" % ",".join(t.id for t in ready)
        lines.append(line)
    return lines


def run(path):
    with open(path) as handle:
        source = handle.read().splitlines()
    out = []
    config = dict(TEST_CONFIG)
    resources = None
    sch = None
    NOW[0] = 0.0

    def scheduler():
        nonlocal sch
        if sch is None:
            sch = S.Scheduler(resources=dict(resources or {}), **config)
        return sch

    for line in source:
        if line.startswith("< ") or line.startswith("| ") or line == "|":
            continue
        out.append(line)
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("config "):
            for option in text[len("config "):].split():
                key, value = option.split("=", 1)
                config[key] = json.loads(value) if value not in ("true", "false") else value == "true"
        elif text.startswith("resources "):
            resources = {k: int(v) for k, v in (o.split("=", 1) for o in text[len("resources "):].split())}
            if sch is not None:
                sch._resources = dict(resources)
        elif text.startswith("time "):
            NOW[0] = float(text[len("time "):])
        elif text.startswith("advance "):
            NOW[0] += float(text[len("advance "):])
        elif text == "= state":
            out.extend("| " + l for l in snapshot(scheduler()))
        elif text.startswith("> "):
            call = text[2:]
            fields = None
            if " => " in call:
                call, picked = call.split(" => ", 1)
                fields = [f.strip() for f in picked.split(",")]
            method, _, data = call.partition(" ")
            kwargs = json.loads(data) if data.strip() else {}
            try:
                result = getattr(scheduler(), method)(**kwargs)
            except Exception as error:  # Luigi bugs (e.g. AttributeError): luigid answers 500
                out.append("< ERROR python:%s" % type(error).__name__)
                continue
            out.append("< " + reply_text(method, result, fields))
        else:
            raise SystemExit("%s: unknown directive %r" % (path, text))
    with open(path, "w") as handle:
        handle.write("\n".join(out) + "\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    paths = sys.argv[1:] or sorted(glob.glob(os.path.join(here, "*.txt")))
    for path in paths:
        run(path)
        print("regenerated", os.path.basename(path))


if __name__ == "__main__":
    main()
