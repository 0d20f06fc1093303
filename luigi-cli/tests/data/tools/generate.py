#!/usr/bin/env python
"""Records what Python Luigi 3.8.1's luigi-deps, luigi-deps-tree and luigi-grep print, as
reference output for luigi-cli/tests/tools.rs.

Run it with the venv that has luigi 3.8.1 installed, from anywhere:

    ~/.cache/luigi-rs/venv/bin/python luigi-cli/tests/data/tools/generate.py

It writes, next to itself:

- cases.json: the files of each pipeline state, the scheduler contents and queries for grep,
  and one entry per recorded run (which tool, which pipeline state or luigid configuration,
  which arguments, which output file);
- deps/*.txt and tree/*.txt: the output of luigi-deps and luigi-deps-tree for the pipelines
  defined below (the same pipelines are defined in Rust in tests/tools.rs), with the output
  directory replaced by the placeholder {root};
- graph_*.json: the raw body of GET /api/graph from a real Python luigid populated through
  /api/add_task, and grep/*.txt: what luigi-grep printed for it, with the port replaced by
  {port}.

Each tool runs in a child process of this script (mode `_tool`), the way the console scripts
run, with PYTHONHASHSEED=0 so that luigi-deps, which prints a set, prints it in the same order
every time. The Rust tests compare luigi-deps output as a set of blocks for that reason.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT_PLACEHOLDER = "{root}"

# ---------------------------------------------------------------------------------------------
# The pipelines. Only defined when running a tool (mode `_tool`), where ROOT is the output dir.
# ---------------------------------------------------------------------------------------------


def define_pipelines(root):
    import luigi
    from luigi.parameter import ParameterVisibility

    class Remote(luigi.Target):
        """A target that is not a file system target: luigi-deps describes it as 'to be determined'."""

        def exists(self):
            return False

    class Source(luigi.ExternalTask):
        name = luigi.Parameter()

        def output(self):
            return luigi.LocalTarget(f"{root}/source_{self.name}.txt")

    class Clean(luigi.Task):
        task_namespace = "etl"
        name = luigi.Parameter()
        day = luigi.DateParameter()
        attempt = luigi.IntParameter(default=1, significant=False)

        def requires(self):
            return Source(self.name)

        def output(self):
            return luigi.LocalTarget(f"{root}/clean/{self.name}_{self.day}.txt")

    class Join(luigi.Task):
        day = luigi.DateParameter()
        label = luigi.Parameter(default="it's")

        def requires(self):
            return {"a": Clean(name="a", day=self.day), "b": Clean(name="b", day=self.day)}

        def output(self):
            return [luigi.LocalTarget(f"{root}/join_{self.day}.csv"), luigi.LocalTarget(f"{root}/join_{self.day}.idx")]

    class Report(luigi.Task):
        day = luigi.DateParameter()
        verbose = luigi.BoolParameter()
        secret = luigi.Parameter(default="s", visibility=ParameterVisibility.HIDDEN)
        token = luigi.Parameter(default="t", visibility=ParameterVisibility.PRIVATE)

        def requires(self):
            return [Join(day=self.day), Clean(name="a", day=self.day)]

        def output(self):
            return {"main": luigi.LocalTarget(f"{root}/report_{self.day}.txt"), "remote": Remote()}

    class All(luigi.WrapperTask):
        day = luigi.DateParameter()

        def requires(self):
            return [Report(day=self.day), Join(day=self.day)]

    # The tree from the luigi-deps-tree docstring, with fixed children instead of random ones.
    children = {0: [4, 5], 2: [6], 6: [7, 8], 7: [9, 10], 10: [11], 8: [12]}

    class Bar(luigi.Task):
        task_namespace = "examples"
        num = luigi.IntParameter()

        def requires(self):
            return [Bar(num=n) for n in children.get(self.num, [])]

        def output(self):
            return luigi.LocalTarget(f"{root}/bar/{self.num}")

    class Foo(luigi.Task):
        task_namespace = "examples"

        def requires(self):
            return [Bar(num=n) for n in range(3)]

    return locals()


# Which files exist in each pipeline state.
STATES = {
    "empty": [],
    "partial": [
        "source_a.txt",
        "source_b.txt",
        "clean/a_2024-01-15.txt",
        "join_2024-01-15.csv",
        "report_2024-01-15.txt",
        "bar/4",
        "bar/9",
        "bar/11",
        "bar/12",
    ],
    "full": [
        "source_a.txt",
        "source_b.txt",
        "clean/a_2024-01-15.txt",
        "clean/b_2024-01-15.txt",
        "join_2024-01-15.csv",
        "join_2024-01-15.idx",
        "report_2024-01-15.txt",
    ]
    + [f"bar/{n}" for n in range(13)],
}

# (tool, state, arguments) for luigi-deps and luigi-deps-tree.
DEPS_CASES = [
    (state, ["All", "--day", "2024-01-15"] + extra)
    for state in ["empty", "partial"]
    for extra in [
        [],
        ["--upstream-family", "etl.Clean"],
        ["--upstream-family", "Source"],
        ["--upstream-family", "Join"],
        ["--upstream-family", "All"],
        ["--upstream-family", "Nope"],
    ]
] + [
    ("partial", ["Report", "--day", "2024-01-15", "--verbose"]),
    ("partial", ["Report", "--day", "2024-01-15", "--upstream-family", "Report"]),
    ("partial", ["examples.Foo"]),
    ("partial", ["examples.Foo", "--upstream-family", "examples.Bar"]),
]
TREE_CASES = [
    (state, args)
    for state in ["empty", "partial", "full"]
    for args in [
        ["All", "--day", "2024-01-15"],
        ["Report", "--day", "2024-01-15", "--verbose", "--secret", "x"],
        ["etl.Clean", "--name", "it's \"q\"", "--day", "2024-02-29"],
        ["examples.Foo"],
        ["examples.Bar", "--num", "7"],
    ]
]


def run_tool():
    """Mode `_tool TOOL ROOT ARGS...`: defines the pipelines and runs the tool's main()."""
    tool, root, args = sys.argv[2], sys.argv[3], sys.argv[4:]
    define_pipelines(root)
    if tool == "deps":
        from luigi.tools import deps as module
    else:
        from luigi.tools import deps_tree as module
    sys.argv = [f"luigi-{tool}"] + args
    module.main()


def record_tool(tool, state, args, name):
    root = tempfile.mkdtemp(prefix="luigi-tools-")
    try:
        for rel in STATES[state]:
            path = Path(root, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")
        env = dict(os.environ, PYTHONHASHSEED="0", LUIGI_CONFIG_PATH=os.path.join(root, "none.cfg"))
        out = subprocess.run(
            [sys.executable, __file__, "_tool", tool, root] + args,
            env=env,
            cwd=root,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    finally:
        shutil.rmtree(root)
    rel = f"{'deps' if tool == 'deps' else 'tree'}/{name}.txt"
    (HERE / rel).write_text(out.replace(root, ROOT_PLACEHOLDER))
    return {"tool": tool, "state": state, "args": args, "file": rel}


# ---------------------------------------------------------------------------------------------
# luigi-grep against a real luigid.
# ---------------------------------------------------------------------------------------------

# (task_id, family, status, deps); added in this order by worker "w1".
GREP_TASKS = [
    ("A_1_aaaaaaaaaa", "A", "PENDING", ["B_1_bbbbbbbbbb", "C_1_cccccccccc", "Missing_1_mmmmmmmmmm"]),
    ("B_1_bbbbbbbbbb", "B", "DONE", ["D_1_dddddddddd"]),
    ("C_1_cccccccccc", "C", "FAILED", []),
    ("D_1_dddddddddd", "D", "DONE", []),
    ("Aa_2_aaaaaaaaaa", "Aa", "PENDING", ["A_1_aaaaaaaaaa", "B_1_bbbbbbbbbb", "C_1_cccccccccc"]),
    ("E_3_eeeeeeeeee", "E", "DISABLED", ["D_1_dddddddddd"]),
    ("F_4_ffffffffff", "F", "PENDING", ["E_3_eeeeeeeeee", "A_1_aaaaaaaaaa", "D_1_dddddddddd", "C_1_cccccccccc"]),
]
GREP_QUERIES = [
    ["--prefix", "A"],
    ["--prefix", "A_"],
    ["--prefix", "a"],
    ["--prefix", "Missing"],
    ["--prefix", "zzz"],
    ["--status", "PENDING"],
    ["--status", "done"],
    ["--status", "Failed"],
    ["--status", "unknown"],
    ["--status", "DISABLED"],
    ["--status", "RUNNING"],
    ["--prefix", "B", "--status", "PENDING"],
    [],
]
# luigid configurations: the whole graph, and one cut short by max_graph_nodes so that some
# dependencies are missing from it (luigi-grep groups those under UNKNOWN).
GREP_SERVERS = {"full": "", "truncated": "[scheduler]\nmax_graph_nodes = 2\n"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record_grep():
    from luigi.rpc import RemoteScheduler

    cases = []
    for server, config in GREP_SERVERS.items():
        tmp = tempfile.mkdtemp(prefix="luigi-grep-")
        cfg = os.path.join(tmp, "luigi.cfg")
        Path(cfg).write_text(config)
        port = free_port()
        env = dict(os.environ, LUIGI_CONFIG_PATH=cfg)
        bindir = Path(sys.executable).parent
        luigid = subprocess.Popen(
            [str(bindir / "luigid"), "--address", "127.0.0.1", "--port", str(port), "--state-path", f"{tmp}/state"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    urllib.request.urlopen(url + "/api/graph").read()
                    break
                except OSError:
                    time.sleep(0.05)
            sched = RemoteScheduler(url)
            for task_id, family, status, deps in GREP_TASKS:
                sched.add_task(worker="w1", task_id=task_id, family=family, status=status, deps=deps, params={})
            body = urllib.request.urlopen(url + "/api/graph").read().decode("utf-8")
            (HERE / f"graph_{server}.json").write_text(body)
            for n, query in enumerate(GREP_QUERIES):
                out = subprocess.run(
                    [str(bindir / "luigi-grep"), "--scheduler-host", "127.0.0.1", "--scheduler-port", str(port)] + query,
                    env=env,
                    capture_output=True,
                    check=True,
                    text=True,
                ).stdout
                rel = f"grep/{server}_{n}.txt"
                (HERE / rel).write_text(out.replace(f":{port}/", ":{port}/"))
                cases.append({"tool": "grep", "state": server, "args": query, "file": rel})
        finally:
            luigid.terminate()
            luigid.wait()
            shutil.rmtree(tmp)
    return cases


def main():
    import luigi

    assert luigi.__version__ == "3.8.1", luigi.__version__
    for sub in ["deps", "tree", "grep"]:
        shutil.rmtree(HERE / sub, ignore_errors=True)
        (HERE / sub).mkdir()
    cases = []
    for n, (state, args) in enumerate(DEPS_CASES):
        cases.append(record_tool("deps", state, args, f"{n:02}"))
    for n, (state, args) in enumerate(TREE_CASES):
        cases.append(record_tool("deps-tree", state, args, f"{n:02}"))
    cases += record_grep()
    grep = {"tasks": GREP_TASKS, "queries": GREP_QUERIES, "servers": GREP_SERVERS}
    (HERE / "cases.json").write_text(json.dumps({"states": STATES, "grep": grep, "cases": cases}, indent=1) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_tool":
        run_tool()
    else:
        main()
