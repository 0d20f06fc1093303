"""Prints, as JSON, what Python Luigi 3.8.1's DbTaskHistory reads from a task-history database.

Usage: python check_db.py DB_URL [--write]

With --write it first records, through DbTaskHistory exactly as Python's luigid would, a
PENDING, RUNNING (host python-host) and DONE event for task PythonWrote_1_abc (family
PythonWrote, parameter x=1), to show that Python can also write into the database.

Used by generate.py to describe the reference databases, and by the Rust interop tests
(luigi-scheduler/tests/history/interop.rs) to check that Python reads databases we wrote.
Needs luigi==3.8.1 and "sqlalchemy<1.4" (psycopg2 for PostgreSQL URLs).
"""

import json
import sys
import time


def describe(db_url, write=False):
    from luigi import configuration

    configuration.get_config().set("task_history", "db_connection", db_url.replace("%", "%%"))
    from luigi.db_task_history import DbTaskHistory

    history = DbTaskHistory()
    if write:
        from luigi.scheduler import Task

        task = Task("PythonWrote_1_abc", "PENDING", deps=[], family="PythonWrote", params={"x": "1"})
        history.task_scheduled(task)
        history.task_started(task, "python-host")
        history.task_finished(task, True)

    def run(t):
        return {
            "id": t.id,
            "task_id": t.task_id,
            "name": t.name,
            "host": t.host,
            "parameters": {k: p.value for k, p in sorted(t.parameters.items())},
            "events": [[e.event_name, str(e.ts)] for e in t.events],
        }

    with history._session() as session:
        runs = list(history.find_all_runs(session))
        out = {
            "described_at_epoch": time.time(),
            "all_runs": sorted((run(t) for t in runs), key=lambda r: r["id"]),
            "latest_runs": [t.id for t in history.find_latest_runs(session)],
            "by_name": {
                name: [t.id for t in history.find_all_by_name(name, session)] for name in sorted({t.name for t in runs})
            },
            "by_task_id": {
                task_id: history.find_task_by_task_id(task_id, session).id for task_id in sorted({t.task_id for t in runs})
            },
            "by_params": {
                str(t.id): [
                    m.id
                    for m in history.find_all_by_parameters(
                        t.name, session, **{k: p.value for k, p in t.parameters.items()}
                    )
                ]
                for t in runs
                if t.parameters
            },
        }
    return out


if __name__ == "__main__":
    print(json.dumps(describe(sys.argv[1], write="--write" in sys.argv[2:]), indent=1, sort_keys=True))
