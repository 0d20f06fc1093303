"""Generates the HTTP-client test vectors for luigi-worker/tests/remote.rs.

Runs real Python Luigi (3.8.1) and records, for each case:

- "urls": how RemoteScheduler turns a scheduler URL into the URL of an RPC (the URL is
  right-stripped of "/" as RemoteScheduler does, then joined with "/api/<method>" by
  luigi.rpc._urljoin), with the credentials removed because the Rust client sends them as a
  header and never puts them in the request line.
- "bodies": the form body Python posts for a JSON argument text (urlencode({"data": ...}),
  which both of Luigi's fetchers use).
- "rpc": the `data` JSON a RemoteScheduler posts for a few calls, made as the worker makes
  them (captured by replacing its _fetch). Python puts the arguments that have defaults
  first; key order means nothing to a server, so the Rust test compares parsed objects.
- "auth": the Authorization header for credentials embedded in the URL. requests (Luigi's
  preferred fetcher) percent-decodes user and password; urllib's fetcher does not. The Rust
  client follows requests, so the header is computed from the decoded values.

Regenerate from the repository root with:

    ~/.cache/luigi-rs/venv/bin/python luigi-worker/tests/data/gen_remote_vectors.py

Output (next to this script): remote_vectors.json.
"""

import base64
import json
import os
from urllib.parse import unquote, urlencode, urlparse

import luigi
from luigi.rpc import RemoteScheduler, _urljoin

assert luigi.__version__ == "3.8.1", luigi.__version__

HERE = os.path.dirname(os.path.abspath(__file__))

BASES = [
    "http://zorg.com",
    "http://zorg.com/",
    "http://zorg.com/subpath",
    "http://zorg.com/subpath/",
    "http://zorg.com/subpath//",
    "http://localhost:8082/",
    "http://localhost:8082",
    "https://sched.example:8443/luigi/",
    "HTTP://Zorg.com//",
    "http://h/a;p",
    "http://h/a/../b",
    "http://h/a/./b/",
    "http://h/../x",
    "http://h/a/..",
    "http://h/sub?x=1#f",
    "http://h/sub#frag",
    "http://h?x=1",
    "http://h/a//b",
    "http://h/a/%2E%2E/b",
    "http://h/a b/",
    "http://[::1]:8082/",
    "http://h/%7Esub/",
    "http://user:pass@h:8082/sub/",
    "http+unix://%2Ftmp%2Fluigi.sock",
    "http+unix://%2Ftmp%2Fluigi.sock/",
    "http+unix://%2Ftmp%2Fluigi.sock/sub/",
    "http+unix://%2Ftmp%2Fluigi.sock/a;p",
    "http://a@b:c@h/",
]
# Left out on purpose: a base path starting with "//" ("http://h//a/"), which Python joins into
# "http://a/api/..." (another host); the Rust client keeps the host and the path.


def without_credentials(url):
    parsed = urlparse(url)
    return parsed._replace(netloc=parsed.netloc.rpartition("@")[2]).geturl()


urls = []
for base in BASES:
    full = _urljoin(base.rstrip("/"), "/api/get_work")
    urls.append({"base": base, "method": "get_work", "url": without_credentials(full)})

ARGUMENTS = [
    {},
    {"worker": "w"},
    {"foo": "bar baz/test"},
    {"worker": "à我ф", "host": "h:1", "text": "a&b=c+d%e ~_.-*'!()"},
    {"worker": "w", "task_family": "B", "batched_args": ["day"], "max_batch_size": float("inf")},
    {"value": float("-inf"), "nan": float("nan"), "line": "x\ny\t\"q\"", "emoji": "\U0001f600"},
]
bodies = []
for arguments in ARGUMENTS:
    data = json.dumps(arguments)
    bodies.append({"data": data, "body": urlencode({"data": data})})
# Texts that json.dumps would escape, to pin how raw UTF-8 and reserved bytes are encoded.
for data in ["\u00e0\u6211\u0444 \U0001f600", "~_.-*+ /?#[]@\x00\x7f"]:
    bodies.append({"data": data, "body": urlencode({"data": data})})

captured = []


def fake_fetch(url_suffix, body):
    captured.append({"method": url_suffix.rsplit("/", 1)[-1], "data": body["data"]})
    return '{"response": {}}'


client = RemoteScheduler("http://localhost:8082/")
client._fetch = fake_fetch
client.add_task_batcher(worker="w", task_family="B", batched_args=["day"], max_batch_size=float("inf"))
client.ping(worker="\u00e0\u6211\u0444")
client.get_work(worker="w", host="h")
client.add_task(worker="w", task_id="A_1_x", status="PENDING", runnable=True, priority=1.5, params={"n": "1"})
rpc = captured

CREDENTIALS = [
    "http://user:pass@localhost",
    "http://user:@localhost",
    "http://user@localhost",
    "http://us%40er:p%3Ass%2Fw@localhost:8082/sub",
    "http://%C3%A0:%E6%88%91@localhost",
    "http://a@b:c@localhost",
]
auth = []
for url in CREDENTIALS:
    parsed = urlparse(url)
    user, password = unquote(parsed.username), unquote(parsed.password or "")
    token = base64.b64encode("{}:{}".format(user, password).encode("utf-8")).decode("ascii")
    auth.append({"url": url, "header": "Basic " + token})

with open(os.path.join(HERE, "remote_vectors.json"), "w") as out:
    # One record per line keeps the file readable and its diffs small.
    out.write("{\n")
    sections = [("urls", urls), ("bodies", bodies), ("rpc", rpc), ("auth", auth)]
    for index, (name, records) in enumerate(sections):
        out.write(' "{}": [\n'.format(name))
        out.write(",\n".join("  " + json.dumps(record, ensure_ascii=False) for record in records))
        out.write("\n ]{}\n".format("," if index + 1 < len(sections) else ""))
    out.write("}\n")
