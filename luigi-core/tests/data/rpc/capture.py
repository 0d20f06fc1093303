#!/usr/bin/env python3
"""Records real Luigi 3.8.1 scheduler RPC traffic as test fixtures for luigi-core/tests/rpc_wire.rs.

What it does, all on loopback inside a fresh temporary directory:

1. starts a real `luigid` (Python Luigi 3.8.1) on a free port;
2. puts a small logging HTTP proxy in front of it;
3. runs real Python workers through the proxy on the pipelines of rpc_tasks.py (dependencies, a
   failing task, a scheduler-disabled task, an external task, two batchable families, resources,
   priorities, owners, retry policies, hidden and insignificant parameters, dynamic dependencies,
   tracking URL / status message / progress / resource decrease, scheduler messages, a worker
   whose processes are changed, a keep-alive worker that gets disabled, a `--workers 0` worker);
4. meanwhile calls the visualiser's RPCs the way luigi.js does (GET with ?data=...) and the tool
   RPCs through `luigi.rpc.RemoteScheduler` (which sends every argument with its default);
5. writes every exchange to captures/<method>.jsonl, one JSON object per line:
   {"http": "GET"|"POST", "data": <raw data field text, or null when absent>,
    "status": <HTTP status>, "response": <raw response body text>}.
   Exact duplicates are written once.

Usage (the Rust tests never run this; they only read the committed captures):

    ~/.cache/luigi-rs/venv/bin/python luigi-core/tests/data/rpc/capture.py

Needs Python Luigi 3.8.1 importable by the interpreter running it, and `luigi`/`luigid` next to it.
"""

import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURES = os.path.join(HERE, "captures")
BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.entries = []

    def add(self, method, entry):
        with self.lock:
            self.entries.append((method, entry))


def make_proxy(recorder, upstream_port):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):
            pass

        def _handle(self, verb):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parsed = urllib.parse.urlsplit(self.path)
            if verb == "POST":
                fields = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True)
            else:
                fields = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
            data = fields["data"][0] if "data" in fields else None

            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("accept-encoding", "host", "connection")}
            conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
            conn.request(verb, self.path, body=body if verb == "POST" else None, headers=headers)
            reply = conn.getresponse()
            reply_body = reply.read()
            conn.close()

            if parsed.path.startswith("/api/"):
                method = parsed.path[len("/api/") :]
                recorder.add(
                    method,
                    {"http": verb, "data": data, "status": reply.status, "response": reply_body.decode("utf-8")},
                )

            self.send_response(reply.status)
            for key, value in reply.getheaders():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply_body)))
            self.end_headers()
            self.wfile.write(reply_body)

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)


class Visualiser:
    """Calls RPCs the way luigi.js does: GET /api/<method>?data=<JSON of a partial argument object>."""

    def __init__(self, base):
        self.base = base

    def call(self, method, params=None, raw_data=None):
        url = self.base + "/api/" + method
        if raw_data is not None:
            url += "?data=" + urllib.parse.quote(raw_data)
        elif params is not None:
            url += "?data=" + urllib.parse.quote(json.dumps(params))
        try:
            with urllib.request.urlopen(url, timeout=30) as reply:
                return json.loads(reply.read().decode("utf-8"))["response"]
        except urllib.error.HTTPError as err:
            err.read()
            return err


def main():
    work = tempfile.mkdtemp(prefix="rpc-capture-")
    out = os.path.join(work, "out")
    os.makedirs(out)
    os.makedirs(os.path.join(work, "log"))
    luigid_port = free_port()
    recorder = Recorder()
    proxy = make_proxy(recorder, luigid_port)
    proxy_port = proxy.server_address[1]
    base = "http://127.0.0.1:%d" % proxy_port

    cfg = os.path.join(work, "luigi.cfg")
    with open(cfg, "w") as handle:
        handle.write(
            "[core]\nscheduler_host=127.0.0.1\nscheduler_port=%d\nrpc-retry-attempts=2\nrpc-retry-wait=1\n"
            "[worker]\nwait_interval=0.3\nping_interval=0.5\n"
            "[scheduler]\nstate_path=%s\nretry_delay=900\n"
            "[resources]\ncpu=4\ndb=1\n" % (proxy_port, os.path.join(work, "state.pickle"))
        )
    env = dict(os.environ, LUIGI_CONFIG_PATH=cfg, RPC_CAPTURE_OUT=out, PYTHONPATH=HERE)
    os.environ.update(LUIGI_CONFIG_PATH=cfg, RPC_CAPTURE_OUT=out)
    sys.path.insert(0, HERE)

    import luigi.rpc  # noqa: E402  (after LUIGI_CONFIG_PATH is set)

    luigid = subprocess.Popen(
        [os.path.join(BIN, "luigid"), "--port", str(luigid_port), "--logdir", os.path.join(work, "log")],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(work, "luigid.err"), "w"),
    )
    try:
        wait_for(lambda: _port_open(luigid_port), 30, "luigid")
        run_scenario(base, env, out, work, luigi.rpc.RemoteScheduler(url=base + "/"))
    finally:
        luigid.terminate()
        luigid.wait(timeout=30)
        proxy.shutdown()

    write_captures(recorder)
    if os.environ.get("RPC_CAPTURE_KEEP") != "1":
        shutil.rmtree(work, ignore_errors=True)


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start_worker(env, work, *args):
    log = open(os.path.join(work, "worker-%d.log" % time.time_ns()), "w")
    return subprocess.Popen(
        [os.path.join(BIN, "luigi"), "--module", "rpc_tasks", *args],
        env=env,
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def find_id(tasks, prefix):
    for task_id in tasks:
        if task_id.startswith(prefix):
            return task_id
    return None


def run_scenario(base, env, out, work, remote):
    ui = Visualiser(base)
    statuses = [
        ("RUNNING", ""),
        ("BATCH_RUNNING", ""),
        ("FAILED", ""),
        ("DONE", ""),
        ("DISABLED", ""),
        ("PENDING", ""),
        ("PENDING", "UPSTREAM_FAILED"),
        ("PENDING", "UPSTREAM_DISABLED"),
    ]

    def ui_sweep(search=""):
        for status, upstream in statuses:
            ui.call("task_list", {"status": status, "upstream_status": upstream, "search": search})
        ui.call("worker_list", {})
        ui.call("resource_list", {})

    # --- Main worker: everything in Root, Reporter first (highest priority).
    main_worker = start_worker(env, work, "Root", "--workers", "1")
    running = wait_for(lambda: ui.call("task_list", {"status": "RUNNING", "upstream_status": "", "search": ""}) or None, 60, "Reporter to run")
    reporter_id = find_id(running, "Reporter_")
    assert reporter_id, running
    workers = ui.call("worker_list", {})
    worker_id = workers[0]["name"]
    ui_sweep()
    ui_sweep(search="Mid")
    ui.call("is_pause_enabled", {})
    ui.call("has_task_history", {})
    ui.call("is_paused", {})
    wait_for(lambda: ui.call("get_task_progress_percentage", {"task_id": reporter_id}).get("progressPercentage"), 30, "progress")
    ui.call("get_task_status_message", {"task_id": reporter_id})
    remote.get_running_task_resources(reporter_id)
    root_id = find_id(ui.call("task_list", {"status": "PENDING", "upstream_status": "", "search": ""}), "Root_")
    ui.call("dep_graph", {"task_id": root_id, "include_done": True})
    ui.call("dep_graph", {"task_id": root_id, "include_done": False})
    ui.call("inverse_dep_graph", {"task_id": reporter_id, "include_done": True})
    ui.call("fetch_error", {"task_id": reporter_id})

    message_id = ui.call("send_scheduler_message", {"worker": worker_id, "task": reporter_id, "content": "hello </script> \u00e9"})["message_id"]
    wait_for(
        lambda: ui.call("get_scheduler_message_response", {"task_id": reporter_id, "message_id": message_id}).get("response"),
        30,
        "the task's reply to the scheduler message",
    )
    ui.call("get_scheduler_message_response", {"task_id": reporter_id, "message_id": message_id})
    ui.call("set_worker_processes", {"worker": worker_id, "n": 2})
    # Let the keep-alive ping deliver set_worker_processes before Reporter finishes.
    time.sleep(1.5)
    ui.call("worker_list", {})
    open(os.path.join(out, "reporter_may_finish"), "w").close()

    while main_worker.poll() is None:
        ui.call("task_list", {"status": "BATCH_RUNNING", "upstream_status": "", "search": ""})
        ui.call("task_list", {"status": "RUNNING", "upstream_status": "", "search": ""})
        ui.call("worker_list", {})
        ui.call("resource_list", {})
        time.sleep(0.25)

    # --- A keep-alive worker that the visualiser disables.
    keep_alive = start_worker(env, work, "Waiter", "--tag", "ka", "--workers", "1", "--worker-keep-alive")

    def keep_alive_worker():
        for worker in ui.call("worker_list", {}):
            if "Waiter_ka" in str(worker.get("first_task")) and worker.get("num_pending", 0) > 0:
                return worker["name"]
        return None

    ka_id = wait_for(keep_alive_worker, 60, "the keep-alive worker")
    time.sleep(1.0)
    ui.call("disable_worker", {"worker": ka_id})
    keep_alive.wait(timeout=60)

    # --- A worker with --workers 0 only counts pending tasks.
    zero = start_worker(env, work, "Waiter", "--tag", "zero", "--workers", "0")
    zero.wait(timeout=60)

    # --- Tool and visualiser RPCs after the runs, through the Python client (all defaults sent).
    tasks = remote.task_list()
    boom_id = find_id(tasks, "Boom__")
    boom2_id = find_id(tasks, "Boom2_")
    leaf1_id = find_id(tasks, "Leaf_1_")
    mid1_id = find_id(tasks, "Mid_1_")
    waiter_id = find_id(tasks, "Waiter_ka_")

    remote.add_worker("driver", {"workers": 1, "host": "driver-host"})
    remote.add_worker("driver", [["salt", "123"], ["workers", 2], ["host", "h"], ["pid", 7]])
    remote.add_task(
        worker="driver",
        task_id="DriverTask_x_1234567890",
        status="PENDING",
        runnable=True,
        deps=["Ghost_x_1234567890", "nounderscore", leaf1_id],
        family="DriverTask",
        params={"x": "1", "h": "hidden"},
        param_visibilities={"x": 0, "h": 1},
        priority=3,
        resources={"cpu": 1},
        owners=["o@example.com"],
        retry_policy_dict={"retry_count": 2, "disable_hard_timeout": None, "disable_window": 60},
    )
    remote.add_task(worker="driver", task_id="Runnable_1_0987654321", family="Runnable", params={"y": "2"}, priority=1.5)
    remote.add_task(worker="driver", task_id="Legacy_1_0987654321", family="Legacy", status="SUSPENDED", params={})
    remote.add_task_batcher(worker="driver", task_family="Runnable", batched_args=["y"], max_batch_size=5)
    remote.announce_scheduling_failure(worker="driver", task_name="DriverTask(x=1)", family="DriverTask", params={"x": "1"}, expl="Traceback ...", owners=["o@example.com"])
    remote.count_pending(worker="driver")
    remote.count_pending(worker="never-seen-worker")
    remote.get_work(worker="driver", host="driver-host", assistant=False, current_tasks=[])
    remote.get_work(worker="driver", host="driver-host", assistant=False, current_tasks=[])
    remote.set_task_status_message("Runnable_1_0987654321", "driver says hi")
    remote.set_task_progress_percentage("Runnable_1_0987654321", 12.5)
    remote.decrease_running_task_resources("Runnable_1_0987654321", {"cpu": 1})
    remote.get_running_task_resources("Runnable_1_0987654321")
    remote.get_running_task_resources("Unknown_task_id")
    remote.report_task_statistics("Runnable_1_0987654321", {"rows": 10, "ratio": 0.5})
    remote.add_scheduler_message_response("Runnable_1_0987654321", "mid-1", {"answer": [1, 2]})
    remote.get_scheduler_message_response("Runnable_1_0987654321", "mid-1")
    remote.get_scheduler_message_response("Runnable_1_0987654321", "mid-1")
    remote.send_scheduler_message("driver", "Runnable_1_0987654321", "ping me")
    remote.set_worker_processes("driver", 3)
    remote.ping(worker="driver")
    remote.ping(worker="driver")
    remote.ping(worker="brand-new-worker")
    remote.get_task_status_message("Runnable_1_0987654321")
    remote.get_task_status_message("Unknown_task_id")
    remote.get_task_progress_percentage("Runnable_1_0987654321")
    remote.get_task_progress_percentage("Unknown_task_id")
    remote.add_task(worker="driver", task_id="Runnable_1_0987654321", status="RUNNING", tracking_url="http://t/1")
    remote.add_task(worker="driver", task_id="Runnable_1_0987654321", status="DONE", expl=json.dumps(None), runnable=None, new_deps=[])

    remote.graph()
    remote.dep_graph("DriverTask_x_1234567890")
    remote.dep_graph(root_id, include_done=False)
    remote.dep_graph("Unknown_task_id")
    remote.inverse_dep_graph(leaf1_id)
    remote.inverse_dep_graph(leaf1_id, include_done=False)
    remote.inverse_dep_graph("Unknown_task_id")
    remote.task_list()
    remote.task_list(status="DONE", max_shown_tasks=2)
    remote.task_list(status="PENDING", upstream_status="UPSTREAM_MISSING_INPUT", max_shown_tasks=1)
    remote.task_list(status="PENDING", upstream_status="UPSTREAM_MISSING_INPUT")
    remote.task_list(search="mid 1")
    remote.task_list(status="DONE", limit=False)
    remote.task_list(search="Leaf", max_shown_tasks=1)
    remote.task_search("Mid")
    remote.task_search("Batch")
    remote.task_search("nothing-matches")
    remote.worker_list()
    remote.worker_list(include_running=False)
    remote.resource_list()
    remote.fetch_error(boom2_id)
    remote.fetch_error(boom_id)
    remote.fetch_error(mid1_id)
    remote.fetch_error("Unknown_task_id")
    remote.re_enable_task(boom_id)
    remote.re_enable_task(boom2_id)
    remote.forgive_failures(boom2_id)
    remote.forgive_failures(leaf1_id)
    remote.forgive_failures("Unknown_task_id")
    remote.mark_as_done(boom_id)
    remote.mark_as_done(waiter_id)
    remote.mark_as_done("Unknown_task_id")
    remote.is_pause_enabled()
    remote.is_paused()
    remote.pause()
    remote.is_paused()
    remote.get_work(worker="driver", host="driver-host", assistant=False, current_tasks=[])
    remote.unpause()
    remote.has_task_history()
    remote.update_resource("cpu", 8)
    remote.update_resource("db", -1)
    remote.update_resource("gpu", "x")
    remote.update_resources(cpu=4, gpu=2)
    remote.resource_list()
    remote.prune()
    remote.disable_worker("driver")
    remote.get_work(worker="driver", host="driver-host", assistant=False, current_tasks=["Runnable_1_0987654321"])
    remote.count_pending(worker="driver")

    # The visualiser's own shapes, including what real luigid rejects.
    ui.call("task_list", {"status": "FAILED", "upstream_status": "", "search": "boom"})
    ui.call("forgive_failures", {"task_id": boom2_id})
    ui.call("mark_as_done", {"task_id": boom2_id})
    ui.call("re_enable_task", {"task_id": boom2_id})
    ui.call("fetch_error", {"task_id": boom2_id})
    ui.call("update_resource", {"resource": "cpu", "amount": 6})
    ui.call("set_worker_processes", {"worker": "driver", "n": 4})
    ui.call("pause", raw_data="")
    ui.call("unpause", raw_data="")
    ui.call("is_paused")
    ui.call("prune", {"extra": 1})
    ui.call("worker_list", {"unexpected": True})


def write_captures(recorder):
    os.makedirs(CAPTURES, exist_ok=True)
    for name in os.listdir(CAPTURES):
        if name.endswith(".jsonl"):
            os.remove(os.path.join(CAPTURES, name))
    by_method = {}
    for method, entry in recorder.entries:
        lines = by_method.setdefault(method, [])
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True)
        if line not in lines:
            lines.append(line)
    for method, lines in sorted(by_method.items()):
        with open(os.path.join(CAPTURES, method + ".jsonl"), "w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line + "\n")
        print("%-32s %d" % (method, len(lines)))


if __name__ == "__main__":
    main()
