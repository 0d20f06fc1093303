"""Generates random engine scripts (rNN_random.txt) for differential testing against Luigi.

Usage: python generate_random.py [count] [calls]   then   python luigi_reference.py

Each script is a random but valid sequence of RPCs over a small universe of tasks and
workers (so that tasks collide, depend on each other, fail, retry, get disabled, batched,
resourced, pruned), with the clock moving in random steps. `luigi_reference.py` then records
what real Luigi 3.8.1 answers and ends up with, and the Rust test requires the engine to do
exactly the same. Scripts are generated once and committed; the seed is the file number, so
regeneration is reproducible.
"""

import json
import os
import random
import sys

TASKS = ["T%d" % i for i in range(10)]
WORKERS = ["W1", "W2", "W3"]
STATUSES = ["PENDING"] * 6 + ["DONE"] * 3 + ["FAILED"] * 2 + ["RUNNING", "DISABLED", "UNKNOWN", "SUSPENDED"]


def call(method, data=None, fields=None):
    text = "> %s %s" % (method, json.dumps(data or {}, separators=(",", ":")))
    if fields:
        text += " => " + ",".join(fields)
    return text


def family(task):
    return "F%d" % (int(task[1:]) % 3)


def add_task(rng, worker):
    task = rng.choice(TASKS)
    data = {"worker": worker, "task_id": task, "family": family(task), "params": {"p": task[1:]}}
    status = rng.choice(STATUSES)
    if status != "PENDING":
        data["status"] = status
    # Dependencies only point to higher-numbered tasks, so the graph stays acyclic: Luigi's
    # upstream-status walk gives order-dependent answers on cycles, and real pipelines are DAGs.
    later = TASKS[TASKS.index(task) + 1:]
    if status == "PENDING" and later and rng.random() < 0.5:
        data["deps"] = rng.sample(later, min(len(later), rng.randint(1, 3)))
    if rng.random() < 0.3:
        data["priority"] = rng.choice([1, 5, -1, 10])
    if rng.random() < 0.2:
        data["resources"] = rng.choice([{"r": 1}, {"s": 2}, {"r": 1, "s": 1}])
    if rng.random() < 0.15:
        data["runnable"] = False
    if rng.random() < 0.1:
        data["assistant"] = True
    if rng.random() < 0.2:
        data["batchable"] = True
    if status == "FAILED":
        data["expl"] = json.dumps("failed %d" % rng.randint(0, 9))
    if status == "PENDING" and later and rng.random() < 0.1:
        data["new_deps"] = [rng.choice(later)]
    if rng.random() < 0.1:
        data["tracking_url"] = "http://track/%d" % rng.randint(0, 9)
    return call("add_task", data)


def step(rng):
    worker = rng.choice(WORKERS)
    roll = rng.random()
    if roll < 0.35:
        return [add_task(rng, worker)]
    if roll < 0.55:
        data = {"worker": worker}
        if rng.random() < 0.3:
            data["current_tasks"] = rng.sample(TASKS, rng.randint(0, 2))
        if rng.random() < 0.1:
            data["assistant"] = True
        return [call("get_work", data)]
    if roll < 0.62:
        return ["advance %d" % rng.choice([1, 3, 9, 11, 50, 101, 500, 1001])]
    if roll < 0.66:
        return [call("prune")]
    if roll < 0.70:
        return [call("count_pending", {"worker": worker})]
    if roll < 0.73:
        return [call("ping", {"worker": worker})]
    if roll < 0.76:
        return [call("task_list", {"status": rng.choice(["", "PENDING", "RUNNING", "DONE", "FAILED", "DISABLED"])})]
    if roll < 0.78:
        return [call("task_list", {"status": "PENDING", "upstream_status": rng.choice(
            ["UPSTREAM_FAILED", "UPSTREAM_DISABLED", "UPSTREAM_RUNNING", "UPSTREAM_MISSING_INPUT"])})]
    if roll < 0.80:
        return [call(rng.choice(["dep_graph", "inverse_dep_graph"]),
                     {"task_id": rng.choice(TASKS), "include_done": rng.random() < 0.7})]
    if roll < 0.82:
        return [call(rng.choice(["forgive_failures", "mark_as_done", "re_enable_task"]), {"task_id": rng.choice(TASKS)})]
    if roll < 0.84:
        return [call("add_task_batcher", {"worker": worker, "task_family": "F%d" % rng.randint(0, 2),
                                          "batched_args": ["p"], "max_batch_size": rng.choice([2, 3, 100])})]
    if roll < 0.86:
        return [call("worker_list", {"include_running": rng.random() < 0.5})]
    if roll < 0.87:
        return [call("resource_list")]
    if roll < 0.88:
        return [call("fetch_error", {"task_id": rng.choice(TASKS)})]
    if roll < 0.89:
        return [call("task_search", {"task_str": rng.choice(["T", "T1", "x"])})]
    if roll < 0.90:
        return [call("decrease_running_task_resources", {"task_id": rng.choice(TASKS), "decrease_resources": {"r": 1}})]
    if roll < 0.91:
        return [call("set_task_status_message", {"task_id": rng.choice(TASKS), "status_message": "m"})]
    if roll < 0.92:
        return [call("disable_worker", {"worker": worker})] if rng.random() < 0.3 else []
    if roll < 0.93:
        return [call(rng.choice(["pause", "unpause"]))]
    if roll < 0.95:
        return [call("add_worker", {"worker": worker, "info": [["workers", rng.randint(1, 3)]]})]
    if roll < 0.97:
        return [call("graph")]
    return ["= state"]


def generate(number, calls):
    rng = random.Random(number)
    lines = ["# Random differential script %d (generate_random.py); expected output from Luigi 3.8.1." % number]
    if rng.random() < 0.5:
        lines.append("config retry_count=%d retry_delay=%d" % (rng.randint(1, 3), rng.choice([5, 100])))
    lines.append("resources r=%d s=%d" % (rng.randint(1, 2), rng.randint(1, 3)))
    lines.append("time 1000")
    for _ in range(calls):
        lines.extend(step(rng))
    lines.append("= state")
    return lines


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 80
    here = os.path.dirname(os.path.abspath(__file__))
    for number in range(1, count + 1):
        path = os.path.join(here, "r%02d_random.txt" % number)
        with open(path, "w") as handle:
            handle.write("\n".join(generate(number, calls)) + "\n")
    print("wrote %d scripts" % count)


if __name__ == "__main__":
    main()
