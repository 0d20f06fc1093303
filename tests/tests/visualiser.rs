//! The visualiser in real headless Chromium against a real `luigid`.
//!
//! `a_real_pipeline_in_the_browser`: a worker runs `tests/src/bin/visualiser-pipeline.rs`
//! (a report needing three parts, a task whose parameter is `<script>alert(1)</script>` and
//! one that fails) and a Python Luigi 3.8.1 worker runs a failing task with a hostile message
//! against our `luigid`; then the browser checks the status cards' counts, the search box, the
//! family sidebar, deep links, a task's detail with its error text, that hostile values are
//! text and hidden parameters absent, the dependency graph's nodes and edges against
//! `/api/dep_graph`, the history link, the workers page, and two actions (forgive failures,
//! mark as done) whose effect is checked through `/api`.
//!
//! `a_hundred_thousand_tasks`: 100k tasks registered with `add_task` over HTTP, then the first
//! render, a status filter and a search are timed in the browser (printed, not asserted: a
//! timing assertion would be flaky on a shared CI machine), and the graph of a root with 100k
//! tasks below it, beyond `max_graph_nodes`, must draw its truncation notice within a generous
//! bound.
//!
//! Screenshots go to `$CARGO_TARGET_TMPDIR/visualiser-screenshots/` (under the target
//! directory, `tmp/visualiser-screenshots/`), kept after the run as artifacts.

mod visualiser_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use luigi_tests::Luigid;
use serde_json::{Value, json};
use visualiser_support::webdriver::Browser;

const LUIGID: &str = env!("CARGO_BIN_EXE_luigid-under-test");
const PIPELINE: &str = env!("CARGO_BIN_EXE_visualiser-pipeline");
const HOSTILE: &str = "<script>alert(1)</script>";
/// How long the page may take to show something after a change before a test fails.
const UI_LIMIT: Duration = Duration::from_secs(30);

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("visualiser-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    dir
}

/// The card counts shown, by category.
fn card_counts(browser: &Browser) -> Value {
    browser
        .execute(
            "return Object.fromEntries([...document.querySelectorAll('#cards .card')]
               .map(c => [c.dataset.status, Number(c.querySelector('.count').textContent)]));",
            &[],
        )
        .expect("reading the cards")
}

/// The ids of the rows shown.
fn row_ids(browser: &Browser) -> Vec<String> {
    let ids = browser
        .execute("return [...document.querySelectorAll('#task-rows tr')].map(r => r.dataset.id);", &[])
        .expect("reading the rows");
    ids.as_array().expect("a list").iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect()
}

/// Runs `change` and waits for the list to render again; the milliseconds it took, measured
/// in the page (`performance.now()` before the change to the end of the render).
fn timed_change(browser: &Browser, change: impl FnOnce()) -> f64 {
    let before = browser
        .execute("window.__t0 = performance.now(); return window.__vis.renders;", &[])
        .expect("reading the render count")
        .as_u64()
        .expect("a count");
    change();
    browser.wait_for(&format!("window.__vis.renders > {before}"), UI_LIMIT).expect("the list renders again");
    browser.execute("return window.__vis.lastRenderAt - window.__t0;", &[]).expect("timing").as_f64().unwrap_or(-1.0)
}

/// Waits until the list shows exactly `n` rows.
fn wait_rows(browser: &Browser, n: usize) {
    browser
        .wait_for(&format!("document.querySelectorAll('#task-rows tr').length === {n}"), UI_LIMIT)
        .unwrap_or_else(|err| panic!("expected {n} rows, saw {:?}: {err}", row_ids(browser)));
}

/// Opens a graph view at `url` and waits until it is drawn (or failed). The marker of the
/// previous graph is removed first: a change of the hash alone does not reload the page.
fn open_graph(browser: &Browser, url: &str) {
    browser.execute("delete document.body.dataset.graph;", &[]).expect("clearing the graph marker");
    browser.goto(url).expect("opening the graph");
    browser.wait_for("document.body.dataset.graph", Duration::from_secs(60)).expect("the graph draws");
}

/// Clicks Confirm in the page's confirmation dialog.
fn confirm(browser: &Browser) {
    browser.wait_for("document.getElementById('confirm').open", UI_LIMIT).expect("the confirmation dialog opens");
    browser.click("#confirm-ok").expect("confirming");
}

/// Polls `condition` (a scheduler query) until it holds; panics naming `what` after [`UI_LIMIT`].
fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + UI_LIMIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the pipeline with a luigi-rs worker against `url`; returns the worker's exit code.
fn run_pipeline(work: &Path, root: &Path, url: &str) -> Option<i32> {
    let output = Command::new(PIPELINE)
        .args(["VisReport", "--root", &root.display().to_string(), "--date", "2024-01-01", "--label", HOSTILE])
        .args(["--scheduler-url", url, "--workers", "2", "--no-progress"])
        .current_dir(work)
        .env_remove("LUIGI_CONFIG_PATH")
        .stdin(Stdio::null())
        .output()
        .expect("running the pipeline");
    output.status.code()
}

/// Runs Python's failing interop task with `message` against `url`, when Luigi 3.8.1 is there.
fn run_python_failure(python: &Path, work: &Path, root: &Path, url: &str, message: &str) {
    let output = Command::new(python)
        .args(["-m", "luigi", "--module", "interop_pipeline", "InteropFail", "--root", &root.display().to_string()])
        .args(["--message", message, "--scheduler-url", url])
        .env("PYTHONPATH", Path::new(env!("CARGO_MANIFEST_DIR")).join("python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("LUIGI_CONFIG_PATH")
        .current_dir(work)
        .stdin(Stdio::null())
        .output()
        .expect("running the Python worker");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("failed")
            || String::from_utf8_lossy(&output.stderr).contains("failed"),
        "the Python worker ran its failing task: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_real_pipeline_in_the_browser() {
    let Some(browser) = Browser::start(1400, 1000).expect("the browser starts") else { return };
    let shots = screenshots();
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let (daemon, work, root) = (tmp.path().join("daemon"), tmp.path().join("work"), tmp.path().join("root"));
    for dir in [&daemon, &work, &root] {
        std::fs::create_dir(dir).expect("a test directory");
    }
    std::fs::write(daemon.join("luigi.cfg"), "[scheduler]\nrecord_task_history = true\n[resources]\nvis_slots = 2\n")
        .expect("luigid's config");
    std::fs::write(work.join("luigi.cfg"), "[core]\nno_lock = true\n").expect("the workers' config");
    let luigid = Luigid::start(Path::new(LUIGID), &daemon, &["--state-path", "state.db"]).expect("luigid starts");
    let url = format!("http://127.0.0.1:{}", luigid.port);

    let code = run_pipeline(&work, &root, &url);
    assert_ne!(code, Some(0), "the pipeline has a failing task");
    let python = luigi_tests::pipeline::luigi_python();
    let python_message = "python says <img src=x onerror=alert(2)>";
    if let Some(python) = &python {
        run_python_failure(python, &work, &root, &url, python_message);
    }
    let failed = if python.is_some() { 2 } else { 1 };

    // The list: counts, hostile values as text, hidden parameters absent.
    browser.goto(&format!("{url}/")).expect("loading the UI");
    browser.wait_for("window.__vis && window.__vis.renders >= 1", UI_LIMIT).expect("the list renders");
    let counts = card_counts(&browser);
    assert_eq!(counts["DONE"], 4, "{counts}");
    assert_eq!(counts["FAILED"], failed, "{counts}");
    assert_eq!(counts["UPSTREAM_FAILED"], 1, "{counts}");
    assert_eq!(counts["PENDING"], 0, "{counts}");
    assert_eq!(counts["RUNNING"], 0, "{counts}");
    assert_eq!(row_ids(&browser).len(), 5 + failed);
    let page = browser
        .execute(
            "return { text: document.body.innerText, html: document.body.innerHTML,
                      scripts: document.scripts.length, images: document.images.length };",
            &[],
        )
        .expect("reading the page");
    let text = page["text"].as_str().unwrap_or_default();
    assert!(text.contains(&format!("label={HOSTILE}")), "the hostile value shows as text");
    assert!(!page["html"].as_str().unwrap_or_default().contains(HOSTILE), "the hostile value is never markup");
    assert_eq!(page["scripts"], 1, "only app.js");
    assert_eq!(page["images"], 0, "no injected images");
    assert!(!text.contains("s3cret-token"), "hidden parameters never show");
    if python.is_some() {
        assert!(text.contains("InteropFail"), "the Python worker's task is listed");
    }
    browser.screenshot(&shots.join("list.png")).expect("screenshot");

    // Search.
    browser.type_into("#search", "vispart").expect("typing a search");
    wait_rows(&browser, 3);
    assert!(row_ids(&browser).iter().all(|id| id.starts_with("VisPart_")), "{:?}", row_ids(&browser));
    let counts = card_counts(&browser);
    assert_eq!((counts["DONE"].as_u64(), counts["FAILED"].as_u64()), (Some(3), Some(0)), "cards count the search");
    browser.click("#clear-filters").expect("clearing");
    wait_rows(&browser, 5 + failed);

    // Family sidebar, then the deep link it made.
    browser.click("#families button[data-family='VisBroken']").expect("choosing a family");
    wait_rows(&browser, 1);
    let broken = row_ids(&browser).remove(0);
    let hash = browser.execute("return location.hash;", &[]).expect("hash");
    assert!(hash.as_str().unwrap_or_default().contains("family=VisBroken"), "{hash}");
    // Leave the page first: loading the same URL again would only be a same-document navigation.
    browser.goto("about:blank").expect("leaving the page");
    browser
        .goto(&format!("{url}/static/visualiser/index.html{}", hash.as_str().unwrap_or_default()))
        .expect("deep link");
    browser.wait_for("window.__vis && window.__vis.renders >= 1", UI_LIMIT).expect("the deep link renders");
    wait_rows(&browser, 1);
    assert_eq!(row_ids(&browser), std::slice::from_ref(&broken));

    // Status card filter.
    browser.click("#clear-filters").expect("clearing");
    wait_rows(&browser, 5 + failed);
    browser.click(".card[data-status='FAILED']").expect("filtering by a card");
    wait_rows(&browser, failed);

    // Detail of the failed task, reached by clicking its name.
    browser.click(&format!("#task-rows tr[data-id='{broken}'] a.task-link")).expect("opening the task");
    let error =
        browser.wait_for("document.getElementById('task-error').textContent", UI_LIMIT).expect("the error shows");
    assert!(error.as_str().unwrap_or_default().contains("cannot be built: source missing"), "{error}");
    let fields = browser.execute("return document.getElementById('task-fields').innerText;", &[]).expect("fields");
    assert!(fields.as_str().unwrap_or_default().contains(&broken), "{fields}");
    assert!(fields.as_str().unwrap_or_default().contains("FAILED"), "{fields}");
    let actions = browser
        .execute("return [...document.querySelectorAll('#task-actions button')].map(b => b.dataset.action);", &[])
        .expect("actions");
    assert_eq!(actions, json!(["forgive_failures", "mark_as_done"]), "only what the scheduler allows for FAILED");
    let history = browser.execute("return [...document.querySelectorAll('#task-fields a')].map(a => a.href);", &[]);
    assert!(history.expect("links").to_string().contains("/history/by_task_id/"), "history is on: linked");
    browser.screenshot(&shots.join("detail-failed.png")).expect("screenshot");

    // Forgive failures: confirmed, then the scheduler has it PENDING.
    browser.click("#task-actions button[data-action='forgive_failures']").expect("forgive");
    confirm(&browser);
    browser
        .wait_for("document.querySelector('#task-title .badge').dataset.status === 'PENDING'", UI_LIMIT)
        .expect("the page shows the task pending");
    let pending = luigid.rpc("task_list", &json!({"status": "PENDING", "upstream_status": "", "search": "VisBroken"}));
    assert!(pending.expect("task_list").get(&broken).is_some(), "forgiven through the UI");

    // The hostile task's detail.
    let hostile_id = luigid
        .rpc("task_list", &json!({"status": "DONE", "upstream_status": "", "search": "VisLabel"}))
        .expect("task_list")
        .as_object()
        .and_then(|tasks| tasks.keys().next().cloned())
        .expect("the hostile task is done");
    browser.goto(&format!("{url}/static/visualiser/index.html#/task?id={hostile_id}")).expect("detail");
    // Only the hash changes, so wait for this task's parameters, not the previous page's.
    let params = browser
        .wait_for(
            &format!(
                "document.getElementById('task-params') && document.getElementById('task-params').innerText.includes({})
                 && document.getElementById('task-params').innerText",
                json!(HOSTILE)
            ),
            UI_LIMIT,
        )
        .expect("the hostile task's parameters show");
    assert!(params.as_str().unwrap_or_default().contains(HOSTILE), "{params}");
    assert!(!params.as_str().unwrap_or_default().contains("token"), "hidden parameter left out: {params}");

    // The dependency graph of the root, against /api/dep_graph.
    let report_id = luigid
        .rpc("task_list", &json!({"status": "PENDING", "upstream_status": "", "search": "VisReport"}))
        .expect("task_list")
        .as_object()
        .and_then(|tasks| tasks.keys().next().cloned())
        .expect("the report is pending");
    open_graph(&browser, &format!("{url}/static/visualiser/index.html#/graph?id={report_id}"));
    let drawn = browser
        .execute(
            "return { nodes: [...document.querySelectorAll('#graph-svg g.node')].map(n => [n.dataset.id, n.dataset.status]),
                      edges: [...document.querySelectorAll('#graph-svg path.edge')].map(e => [e.dataset.from, e.dataset.to]),
                      truncated: !!document.getElementById('graph-truncated') };",
            &[],
        )
        .expect("reading the graph");
    let api_graph = luigid.rpc("dep_graph", &json!({"task_id": report_id})).expect("dep_graph");
    let api_graph = api_graph.as_object().expect("a graph");
    let mut drawn_ids: Vec<&str> = drawn["nodes"].as_array().unwrap().iter().map(|n| n[0].as_str().unwrap()).collect();
    let mut api_ids: Vec<&str> = api_graph.keys().map(String::as_str).collect();
    drawn_ids.sort_unstable();
    api_ids.sort_unstable();
    assert_eq!(drawn_ids, api_ids, "the graph draws the nodes dep_graph answers");
    assert_eq!(drawn_ids.len(), 6);
    let mut drawn_edges: Vec<(String, String)> = drawn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e[0].as_str().unwrap().to_owned(), e[1].as_str().unwrap().to_owned()))
        .collect();
    let mut api_edges: Vec<(String, String)> = api_graph
        .iter()
        .flat_map(|(id, node)| {
            node["deps"].as_array().into_iter().flatten().map(move |d| (id.clone(), d.as_str().unwrap().to_owned()))
        })
        .collect();
    drawn_edges.sort();
    api_edges.sort();
    assert_eq!(drawn_edges, api_edges, "the graph draws dep_graph's edges");
    assert_eq!(drawn_edges.len(), 5);
    assert_eq!(drawn["truncated"], false);
    let status_of = |id: &str| {
        drawn["nodes"].as_array().unwrap().iter().find(|n| n[0] == id).map(|n| n[1].clone()).unwrap_or_default()
    };
    assert_eq!(status_of(&report_id), "PENDING", "the forgiven failure no longer blocks the report");
    assert_eq!(status_of(&hostile_id), "DONE");
    browser.screenshot(&shots.join("graph.png")).expect("screenshot");
    // Zoom: the + button scales the drawing.
    let transform = "document.getElementById('viewport').getAttribute('transform')";
    let before = browser.execute(&format!("return {transform};"), &[]).expect("transform");
    browser.click("#zoom-in").expect("zooming in");
    let after = browser.execute(&format!("return {transform};"), &[]).expect("transform");
    assert_ne!(before, after, "zooming changes the view");
    // The inverse graph of the failed task: the report depends on it.
    open_graph(&browser, &format!("{url}/static/visualiser/index.html#/graph?id={broken}&dir=dependents"));
    let inverse = browser
        .execute(
            "return [...document.querySelectorAll('#graph-svg path.edge')].map(e => [e.dataset.from, e.dataset.to]);",
            &[],
        )
        .expect("reading the inverse graph");
    assert_eq!(inverse, json!([[broken, report_id]]), "dependents of the failed task");
    open_graph(&browser, &format!("{url}/static/visualiser/index.html#/graph?id={report_id}"));
    // Clicking a node opens its task.
    browser.click(&format!("#graph-svg g.node[data-id='{hostile_id}']")).expect("clicking a node");
    browser.wait_for("document.getElementById('task-params')", UI_LIMIT).expect("the node's task opens");

    // Mark as done on the Python worker's failed task, whose error is Python's traceback.
    if python.is_some() {
        browser.goto(&format!("{url}/static/visualiser/index.html#/tasks?status=FAILED")).expect("failed tasks");
        wait_rows(&browser, 1);
        let python_task = row_ids(&browser).remove(0);
        assert!(python_task.starts_with("InteropFail_"), "{python_task}");
        browser.click("#task-rows a.task-link").expect("opening the Python task");
        let error = browser.wait_for("document.getElementById('task-error').textContent", UI_LIMIT).expect("error");
        let error = error.as_str().unwrap_or_default();
        assert!(error.contains("RuntimeError") && error.contains(python_message), "Python's traceback: {error}");
        browser.screenshot(&shots.join("detail-python.png")).expect("screenshot");
        browser.click("#task-actions button[data-action='mark_as_done']").expect("mark as done");
        confirm(&browser);
        browser
            .wait_for("document.querySelector('#task-title .badge').dataset.status === 'DONE'", UI_LIMIT)
            .expect("the page shows the task done");
        let done = luigid.rpc("task_list", &json!({"status": "DONE", "upstream_status": "", "search": "InteropFail"}));
        assert!(done.expect("task_list").get(&python_task).is_some(), "marked done through the UI");
    }

    // Workers and resources pages render what the scheduler knows.
    browser.goto(&format!("{url}/static/visualiser/index.html#/workers")).expect("workers");
    browser.wait_for("document.querySelectorAll('#workers .worker').length >= 1", UI_LIMIT).expect("workers show");
    browser.screenshot(&shots.join("workers.png")).expect("screenshot");
    let worker = browser.execute("return document.querySelector('#workers .worker').dataset.worker;", &[]);
    let worker = worker.expect("a worker").as_str().unwrap_or_default().to_owned();
    let worker_entry = |name: &str| {
        let workers = luigid.rpc("worker_list", &json!({})).expect("worker_list");
        workers.as_array().into_iter().flatten().find(|w| w["name"] == name).cloned().unwrap_or_default()
    };
    let unread = worker_entry(&worker)["num_unread_rpc_messages"].as_u64().unwrap_or(0);
    browser.replace_text("#workers .worker input.processes", "3").expect("typing a number of processes");
    browser.click("#workers .worker .set-processes").expect("set processes");
    confirm(&browser);
    wait_until("the worker has a set_worker_processes message", || {
        worker_entry(&worker)["num_unread_rpc_messages"].as_u64() == Some(unread + 1)
    });
    browser.click("#workers .worker .disable-worker").expect("disable worker");
    confirm(&browser);
    wait_until("the worker is disabled", || worker_entry(&worker)["state"] == "disabled");

    // Resources: change a capacity.
    browser.goto(&format!("{url}/static/visualiser/index.html#/resources")).expect("resources");
    browser
        .wait_for("document.querySelector(\"#resources tr[data-resource='vis_slots']\")", UI_LIMIT)
        .expect("resources show");
    browser.replace_text("#resources tr[data-resource='vis_slots'] input.capacity", "5").expect("typing a capacity");
    browser.click("#resources tr[data-resource='vis_slots'] .set-capacity").expect("set capacity");
    confirm(&browser);
    wait_until("the capacity is 5", || {
        let resources = luigid.rpc("resource_list", &json!({})).expect("resource_list");
        resources.as_array().into_iter().flatten().any(|r| r["name"] == "vis_slots" && r["num_total"] == 5)
    });
    browser.screenshot(&shots.join("resources.png")).expect("screenshot");

    // Pause and unpause the scheduler from the header.
    for paused in [true, false] {
        browser.click("#pause-btn").expect("pause button");
        confirm(&browser);
        wait_until("the scheduler's pause state changes", || {
            luigid.rpc("is_paused", &json!({})).expect("is_paused")["paused"] == paused
        });
        browser
            .wait_for(&format!("document.getElementById('paused-badge').hidden === {}", !paused), UI_LIMIT)
            .expect("the header shows the pause state");
    }
    // The history pages the header links to.
    browser.goto(&format!("{url}/static/visualiser/index.html#/tasks")).expect("list");
    browser.wait_for("!document.getElementById('history-link').hidden", UI_LIMIT).expect("history linked");
    browser.click("#history-link").expect("opening history");
    browser.wait_for("document.body.innerText.includes('VisBroken')", UI_LIMIT).expect("history lists the runs");
    println!("screenshots in {}", shots.display());
}

/// Item families of the large state (so the sidebar has several).
const BIG_FAMILIES: usize = 20;
/// Groups under the root, and items per group: 100 × 1000 = 100k items.
const ITEMS_PER_GROUP: usize = 1000;

/// How many groups of items the large state has: 100 (100k items), or
/// `$VISUALISER_BIG_GROUPS` to measure larger states by hand (1000 is a million items; run it
/// with `--release`).
fn groups() -> usize {
    std::env::var("VISUALISER_BIG_GROUPS").ok().and_then(|v| v.parse().ok()).unwrap_or(100)
}

fn item_id(i: usize) -> String {
    format!("BigItem{}_{i:06}", i % BIG_FAMILIES)
}

/// Builds the large state in the state database at `path`, which `luigid` then loads: a root
/// needing [`groups()`] groups, each needing [`ITEMS_PER_GROUP`] items; every 100th item FAILED,
/// every 10th (offset 5) PENDING, the rest DONE. The same engine `luigid` runs registers them
/// in process, because 100k `add_task` requests to a debug-built `luigid` take about two
/// minutes of the CI budget (a few seconds this way); serving them is what is under test.
fn build_big_state(path: &Path) {
    use luigi_core::rpc::SchedulerApi as _;
    let clock = std::sync::Arc::new(luigi_scheduler::clock::SystemClock);
    // Policies are not stored with the state: luigid takes max_graph_nodes from its luigi.cfg.
    let config = luigi_scheduler::Config::default();
    let scheduler =
        luigi_scheduler::Scheduler::open_persistent(config, clock, path, luigi_scheduler::persist::Sync::Normal)
            .expect("a state database");
    let add = |request: Value| {
        scheduler.add_task(serde_json::from_value(request).expect("an add_task request")).expect("add_task");
    };
    let n_groups = groups();
    for i in 0..n_groups * ITEMS_PER_GROUP {
        let status = match i % 100 {
            0 => "FAILED",
            n if n % 10 == 5 => "PENDING",
            _ => "DONE",
        };
        add(json!({
            "task_id": item_id(i), "family": format!("BigItem{}", i % BIG_FAMILIES), "worker": "loader",
            "status": status, "priority": i % 7, "expl": (status == "FAILED").then_some("failed on purpose"),
            "params": {"i": i.to_string(), "group": (i / ITEMS_PER_GROUP).to_string()},
        }));
    }
    // Dependents last, so each is stored once with all its dependencies already known (the
    // state database keeps a task's whole record, dependencies included, per row).
    let groups: Vec<String> = (0..n_groups).map(|g| format!("BigGroup_{g:04}")).collect();
    for (g, group) in groups.iter().enumerate() {
        let deps: Vec<String> = (g * ITEMS_PER_GROUP..(g + 1) * ITEMS_PER_GROUP).map(item_id).collect();
        add(
            json!({"task_id": group, "family": "BigGroup", "worker": "loader", "deps": deps, "params": {"g": g.to_string()}}),
        );
    }
    add(json!({"task_id": "BigRoot_1", "family": "BigRoot", "worker": "loader", "deps": groups}));
    scheduler.close();
}

#[test]
fn a_hundred_thousand_tasks() {
    let Some(browser) = Browser::start(1400, 1000).expect("the browser starts") else { return };
    let shots = screenshots();
    let tmp = tempfile::tempdir().expect("a temporary directory");
    // Graphs cut at 2000 nodes, so the root's graph is beyond max_graph_nodes.
    std::fs::write(tmp.path().join("luigi.cfg"), "[scheduler]\nmax_graph_nodes = 2000\n").expect("config");
    let started = Instant::now();
    build_big_state(&tmp.path().join("state.db"));
    let n_groups = groups();
    let items = n_groups * ITEMS_PER_GROUP;
    let total = items + n_groups + 1;
    println!("built a state of {total} tasks in {:.1} s", started.elapsed().as_secs_f64());
    let luigid = Luigid::start(Path::new(LUIGID), tmp.path(), &["--state-path", "state.db"]).expect("luigid starts");
    let url = format!("http://127.0.0.1:{}", luigid.port);

    // The server side alone: one page with all the counts, as the list asks for it.
    let agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(60))).build().new_agent();
    for query in
        ["", "status=FAILED", "search=BigItem3_0123", "family=BigItem7&sort=name", "sort=priority&offset=50000"]
    {
        let started = Instant::now();
        let mut response =
            agent.get(format!("{url}/visualiser-api/tasks?{query}")).call().expect("the visualiser API answers");
        let page: Value = serde_json::from_str(&response.body_mut().read_to_string().expect("body")).expect("JSON");
        println!(
            "GET /visualiser-api/tasks?{query}: {:.1} ms, {} matched",
            started.elapsed().as_secs_f64() * 1000.0,
            page["matched"]
        );
        assert_eq!(page["total"], total);
    }

    // First render in the browser: from navigation start (performance.now() = 0) to the list drawn.
    browser.goto(&format!("{url}/")).expect("loading the UI");
    let first = browser
        .wait_for("window.__vis && window.__vis.renders >= 1 && window.__vis.lastRenderAt", UI_LIMIT)
        .expect("the list renders")
        .as_f64()
        .unwrap_or(-1.0);
    let counts = card_counts(&browser);
    assert_eq!(counts["FAILED"], items / 100, "{counts}");
    assert_eq!(counts["DONE"], items / 100 * 89, "{counts}");
    // Items pending with nothing upstream, groups and the root waiting on failed items.
    assert_eq!(counts["PENDING"], items / 10, "{counts}");
    assert_eq!(counts["UPSTREAM_FAILED"], n_groups + 1, "{counts}");
    assert_eq!(row_ids(&browser).len(), 50);
    browser.screenshot(&shots.join("big-list.png")).expect("screenshot");

    let filter = timed_change(&browser, || browser.click(".card[data-status='FAILED']").expect("filtering"));
    wait_rows(&browser, 50);
    assert!(
        browser
            .execute("return document.getElementById('page-info').textContent;", &[])
            .expect("info")
            .to_string()
            .contains(&format!("of {}", items / 100))
    );
    let family = timed_change(&browser, || {
        browser.click("#families button[data-family='BigItem0']").expect("choosing a family")
    });
    wait_rows(&browser, 50);
    let search = timed_change(&browser, || browser.type_into("#search", "i=1240").expect("searching"));
    let found = row_ids(&browser);
    assert!(
        found.contains(&item_id(12400)) && found.iter().all(|id| id.starts_with("BigItem0_") && id.contains("1240")),
        "status, family and search filters combine: {found:?}"
    );
    let unfilter = timed_change(&browser, || browser.click(".card[data-status='FAILED']").expect("unfiltering"));
    println!(
        "browser at {total} tasks: first render {first:.0} ms; status filter {filter:.0} ms; family filter \
         {family:.0} ms; search {search:.0} ms; status filter off {unfilter:.0} ms"
    );

    // The graph of the root, 100k tasks below it, asked for beyond max_graph_nodes: cut, and says so.
    let started = Instant::now();
    open_graph(&browser, &format!("{url}/static/visualiser/index.html#/graph?id=BigRoot_1&limit=3000"));
    let elapsed = started.elapsed();
    let graph = browser
        .execute(
            "return { nodes: document.querySelectorAll('#graph-svg g.node').length,
                      notice: (document.getElementById('graph-truncated') || {}).textContent, ms: window.__vis.graphMs };",
            &[],
        )
        .expect("reading the graph");
    println!(
        "graph of BigRoot_1 (cut at max_graph_nodes): {} nodes drawn in {:.0} ms",
        graph["nodes"],
        graph["ms"].as_f64().unwrap_or(-1.0)
    );
    assert_eq!(graph["nodes"], 2000, "cut at max_graph_nodes");
    let notice = graph["notice"].as_str().unwrap_or_default();
    assert!(notice.contains("Graph truncated") && notice.contains("max_graph_nodes 2000"), "{notice}");
    assert!(elapsed < Duration::from_secs(60), "the graph view does not hang: {elapsed:?}");
    browser.screenshot(&shots.join("big-graph.png")).expect("screenshot");
}

#[test]
fn messages_to_a_running_task() {
    let Some(browser) = Browser::start(1400, 1000).expect("the browser starts") else { return };
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let (daemon, work, root) = (tmp.path().join("daemon"), tmp.path().join("work"), tmp.path().join("root"));
    for dir in [&daemon, &work, &root] {
        std::fs::create_dir(dir).expect("a test directory");
    }
    std::fs::write(work.join("luigi.cfg"), "[core]\nno_lock = true\n").expect("the worker's config");
    let luigid = Luigid::start(Path::new(LUIGID), &daemon, &["--state-path", "state.db"]).expect("luigid starts");
    let url = format!("http://127.0.0.1:{}", luigid.port);
    let mut worker = Command::new(PIPELINE)
        .args(["VisChat", "--root", &root.display().to_string(), "--scheduler-url", &url, "--no-progress"])
        .current_dir(&work)
        .env_remove("LUIGI_CONFIG_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the worker");
    let running = || {
        let tasks = luigid.rpc("task_list", &json!({"status": "RUNNING", "upstream_status": ""})).expect("task_list");
        tasks.as_object().and_then(|t| t.keys().next().cloned())
    };
    wait_until("the chat task runs", || running().is_some());
    let id = running().expect("a running task");

    browser.goto(&format!("{url}/static/visualiser/index.html#/task?id={id}")).expect("the task's page");
    browser.wait_for("document.getElementById('message-text')", UI_LIMIT).expect("a running task takes messages");
    let shown = browser
        .wait_for(
            "document.getElementById('status-message') && {
               message: document.getElementById('status-message').textContent,
               progress: document.querySelector('#task-progress progress').value }",
            UI_LIMIT,
        )
        .expect("status message and progress");
    assert_eq!(shown["message"], "waiting for messages");
    assert_eq!(shown["progress"], 40);
    let actions = browser.execute(
        "return [...document.querySelectorAll('#task-actions button')].map(b => b.id || b.dataset.action);",
        &[],
    );
    assert_eq!(actions.expect("actions"), json!(["mark_as_done", "send-message"]));

    for (message, answer) in
        [("hello <b>there</b>", "Response: echo: hello <b>there</b>"), ("track", "Response: tracking")]
    {
        browser.replace_text("#message-text", message).expect("typing a message");
        browser.click("#send-message").expect("sending");
        confirm(&browser);
        let expression = format!(
            "document.getElementById('message-response') && document.getElementById('message-response').textContent === {}",
            json!(answer)
        );
        browser.wait_for(&expression, UI_LIMIT).unwrap_or_else(|err| {
            let seen = browser.execute("return document.body.innerText;", &[]).unwrap_or_default();
            panic!("no answer {answer:?}: {err}; page: {seen}")
        });
        if message != "track" {
            browser.screenshot(&screenshots().join("detail-running.png")).expect("screenshot");
        }
    }
    // The tracking URL the task set then: a link, its text shown as text.
    let link = browser
        .wait_for(
            "document.querySelector('#task-progress a') && {
               href: document.querySelector('#task-progress a').href,
               text: document.querySelector('#task-progress a').textContent }",
            UI_LIMIT,
        )
        .expect("the tracking URL shows");
    assert_eq!(link["text"], "http://tracker.invalid/jobs/1?view=<b>");
    assert!(link["href"].as_str().unwrap_or_default().starts_with("http://tracker.invalid/jobs/1"), "{link}");
    // Setting the tracking URL left the task accepting messages (Luigi's worker switches them off).
    let running = luigid.rpc("task_list", &json!({"status": "RUNNING", "upstream_status": ""})).expect("task_list");
    let accepts: Vec<&Value> =
        running.as_object().expect("tasks by id").values().map(|t| &t["accepts_messages"]).collect();
    assert_eq!(accepts, vec![&json!(true)], "{running}");
    std::fs::write(root.join("stop"), "").expect("letting the task finish");
    let deadline = Instant::now() + UI_LIMIT;
    let status = loop {
        if let Some(status) = worker.try_wait().expect("the worker") {
            break status;
        }
        assert!(Instant::now() < deadline, "the worker stops after the stop message");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "the chat task finished: {status}");
}

#[test]
fn re_enable_a_disabled_task() {
    let Some(browser) = Browser::start(1400, 1000).expect("the browser starts") else { return };
    let tmp = tempfile::tempdir().expect("a temporary directory");
    // One failure disables a task, as too many failures do in production.
    std::fs::write(tmp.path().join("luigi.cfg"), "[scheduler]\nretry_count = 1\n").expect("config");
    let luigid = Luigid::start(Path::new(LUIGID), tmp.path(), &["--state-path", "state.db"]).expect("luigid starts");
    let url = format!("http://127.0.0.1:{}", luigid.port);
    let add = |request: Value| luigid.rpc("add_task", &request).expect("add_task");
    add(json!({"task_id": "Flaky_1", "family": "Flaky", "worker": "w", "status": "FAILED", "expl": "flaked"}));
    add(json!({"task_id": "Needs_1", "family": "Needs", "worker": "w", "deps": ["Flaky_1"]}));

    browser.goto(&format!("{url}/")).expect("loading the UI");
    browser.wait_for("window.__vis && window.__vis.renders >= 1", UI_LIMIT).expect("the list renders");
    let counts = card_counts(&browser);
    assert_eq!((counts["DISABLED"].as_u64(), counts["UPSTREAM_DISABLED"].as_u64()), (Some(1), Some(1)), "{counts}");

    // The waiting task names what it waits for, and links to it.
    browser.goto(&format!("{url}/static/visualiser/index.html#/task?id=Needs_1")).expect("the waiting task's page");
    let blocked = browser
        .wait_for("document.getElementById('blocked-by') && document.getElementById('blocked-by').innerText", UI_LIMIT);
    assert!(blocked.expect("the blocker shows").as_str().unwrap_or_default().contains("Flaky()"));
    browser.click("#blocked-by a").expect("following the blocker");
    let error = browser.wait_for("document.getElementById('task-error').textContent", UI_LIMIT).expect("the error");
    assert_eq!(error, "flaked");
    let actions = browser
        .execute("return [...document.querySelectorAll('#task-actions button')].map(b => b.dataset.action);", &[]);
    assert_eq!(actions.expect("actions"), json!(["re_enable_task", "mark_as_done"]));
    browser.click("#task-actions button[data-action='re_enable_task']").expect("re-enable");
    confirm(&browser);
    browser
        .wait_for("document.querySelector('#task-title .badge').dataset.status === 'FAILED'", UI_LIMIT)
        .expect("the page shows the task re-enabled (FAILED, to be retried)");
    let failed = luigid.rpc("task_list", &json!({"status": "FAILED", "upstream_status": ""})).expect("task_list");
    assert!(failed.get("Flaky_1").is_some(), "re-enabled through the UI: {failed}");
}
