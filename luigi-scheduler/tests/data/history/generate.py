"""Regenerates the task-history reference data from real Python Luigi 3.8.1.

Writes, next to this script:

- python_luigid.db: an SQLite history database written by Python's luigid
  ([scheduler] record_task_history = true) while real Python workers ran a small pipeline
  twice against one luigid process and once more after a restart.
- python_luigid.json: what Python's DbTaskHistory query API answers over that database
  (check_db.py's description; the facts the Rust tests compare against).
- python_luigid_pg.sql: the same kind of database written by Python's luigid into PostgreSQL
  (schema luigi_py_history), dumped with pg_dump --inserts, for the PostgreSQL interop test;
  python_luigid_pg.json describes it.

Needs: ~/.cache/luigi-rs/venv (tests/python/setup_venv.sh) with luigi==3.8.1, "sqlalchemy<1.4" (the version Luigi's own
test suite pins) and psycopg2-binary; PostgreSQL on 127.0.0.1:5432 (trust auth, database test).

Run: ~/.cache/luigi-rs/venv/bin/python luigi-scheduler/tests/data/history/generate.py
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PG_SCHEMA = "luigi_py_history"
PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"

PIPELINE = r'''
import sys
import luigi

class HistoryLeaf(luigi.Task):
    n = luigi.IntParameter()
    note = luigi.Parameter(significant=False, default="insignificant")

    def complete(self):
        return False

    def run(self):
        pass

class HistoryFails(luigi.Task):
    label = luigi.Parameter()

    def complete(self):
        return False

    def run(self):
        raise RuntimeError("boom")

class HistoryRoot(luigi.WrapperTask):
    def requires(self):
        return [HistoryLeaf(n=1), HistoryLeaf(n=2), HistoryFails(label="<script>alert(1)</script>")]

port = int(sys.argv[1])
luigi.build([HistoryRoot()], scheduler_host="127.0.0.1", scheduler_port=port, workers=1)
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_luigid(workdir, db_url, port):
    cfg = os.path.join(workdir, "luigi.cfg")
    with open(cfg, "w") as f:
        f.write("[scheduler]\nrecord_task_history = true\nretry_delay = 0\n")
        f.write("[task_history]\ndb_connection = %s\n" % db_url.replace("%", "%%"))
    env = dict(os.environ, LUIGI_CONFIG_PATH=cfg)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from luigi.cmdline import luigid; luigid()", "--port", str(port),
         "--address", "127.0.0.1", "--state-path", os.path.join(workdir, "state.pickle")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("luigid did not start")


def run_pipeline(workdir, port):
    script = os.path.join(workdir, "pipeline.py")
    with open(script, "w") as f:
        f.write(PIPELINE)
    env = dict(os.environ, LUIGI_CONFIG_PATH=os.path.join(workdir, "worker.cfg"))
    open(env["LUIGI_CONFIG_PATH"], "w").close()
    subprocess.run([sys.executable, script, str(port)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def record_runs(db_url):
    """Two runs against one luigid, then one more after a restart."""
    with tempfile.TemporaryDirectory() as workdir:
        port = free_port()
        proc = start_luigid(workdir, db_url, port)
        try:
            run_pipeline(workdir, port)
            run_pipeline(workdir, port)
        finally:
            proc.terminate()
            proc.wait()
        port = free_port()
        proc = start_luigid(workdir, db_url, port)
        try:
            run_pipeline(workdir, port)
        finally:
            proc.terminate()
            proc.wait()


def write_json(name, db_url):
    # A fresh interpreter per database: Luigi's configuration and SQLAlchemy models are global.
    out = subprocess.run([sys.executable, os.path.join(HERE, "check_db.py"), db_url], check=True,
                         capture_output=True, text=True).stdout
    with open(os.path.join(HERE, name), "w") as f:
        f.write(out)


def main():
    db_path = os.path.join(HERE, "python_luigid.db")
    if os.path.exists(db_path):
        os.remove(db_path)
    db_url = "sqlite:///" + db_path
    record_runs(db_url)
    write_json("python_luigid.json", db_url)

    psql = ["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-v", "ON_ERROR_STOP=1", "-c"]
    subprocess.run(psql + ["DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s" % (PG_SCHEMA, PG_SCHEMA)], check=True)
    try:
        pg_url = PG_BASE + "?options=-csearch_path%3D" + PG_SCHEMA
        record_runs(pg_url)
        write_json("python_luigid_pg.json", pg_url)
        dump = subprocess.run(
            ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "--schema", PG_SCHEMA, "--inserts",
             "--no-owner", "--no-privileges", "--no-comments"],
            check=True, capture_output=True, text=True).stdout
    finally:
        subprocess.run(psql + ["DROP SCHEMA IF EXISTS %s CASCADE" % PG_SCHEMA], check=True)
    # Keep only statements; the dump's session settings are applied by the test itself.
    lines = [l for l in dump.splitlines() if l and not l.startswith("--") and not l.startswith("SET ")
             and "set_config" not in l and not l.startswith("\\")]
    with open(os.path.join(HERE, "python_luigid_pg.sql"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
