//! A minimal W3C WebDriver client over `ureq`: enough to load pages, run scripts, click, type
//! and take screenshots in headless Chromium. Chromium and chromedriver come from Debian
//! (`chromium`, `chromium-driver`; `.ci/run` installs them); without them the browser tests
//! skip, or fail under `LUIGI_TEST_REQUIRE_SERVICES=1`.
//!
//! Most checks read the page through [`Browser::execute`] (a script returning JSON), which is
//! both faster and more precise than walking elements one WebDriver call at a time; clicks and
//! typing go through real WebDriver input commands, so they behave as a user's would.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use serde_json::{Value, json};

/// The element reference key of the W3C protocol.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where Debian puts the browser and its driver (overridable for other systems).
fn binary(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default))
}

/// A headless Chromium session.
pub(crate) struct Browser {
    driver: Child,
    base: String,
    agent: ureq::Agent,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session with a `width`×`height` window;
    /// `None` (after reporting why) when the browser is not installed.
    pub(crate) fn start(width: u32, height: u32) -> anyhow::Result<Option<Browser>> {
        let chromium = binary("CHROMIUM", "/usr/bin/chromium");
        let chromedriver = binary("CHROMEDRIVER", "/usr/bin/chromedriver");
        if !chromium.exists() || !chromedriver.exists() {
            luigi_tests::unavailable(&format!(
                "{} or {} is missing (apt-get install chromium chromium-driver)",
                chromium.display(),
                chromedriver.display()
            ));
            return Ok(None);
        }
        let port = luigi_tests::free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", chromedriver.display()))?;
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut browser = Browser { driver, base: format!("http://127.0.0.1:{port}"), agent };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(status) = browser.call("GET", "/status", None)
                && status["ready"] == true
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not become ready within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         format!("--window-size={width},{height}"), "--hide-scrollbars"],
            },
        }}});
        let session = browser.call("POST", "/session", Some(capabilities)).context("creating a browser session")?;
        let id = session["sessionId"].as_str().context("no session id")?.to_owned();
        browser.base = format!("{}/session/{id}", browser.base);
        Ok(Some(browser))
    }

    /// One WebDriver command; the reply's `value`, or its error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let response = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
        }
        .with_context(|| format!("{method} {path}"))?;
        let status = response.status().as_u16();
        let text = response.into_body().with_config().limit(64 << 20).read_to_string()?;
        let reply: Value = serde_json::from_str(&text).with_context(|| format!("{method} {path}: {text}"))?;
        let value = reply.get("value").cloned().unwrap_or(Value::Null);
        if status != 200 {
            bail!("{method} {path}: HTTP {status}: {} {}", value["error"], value["message"]);
        }
        Ok(value)
    }

    /// Loads `url` and waits for the document to load.
    pub(crate) fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.call("POST", "/url", Some(json!({ "url": url }))).map(drop)
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns what it returns.
    pub(crate) fn execute(&self, script: &str, args: &[Value]) -> anyhow::Result<Value> {
        self.call("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    /// Evaluates `expression` until it is truthy; its value, or an error after `limit`.
    pub(crate) fn wait_for(&self, expression: &str, limit: Duration) -> anyhow::Result<Value> {
        let deadline = Instant::now() + limit;
        let script = format!("try {{ return ({expression}); }} catch (e) {{ return null; }}");
        loop {
            let value = self.execute(&script, &[])?;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false)) && value != json!(0) && value != json!("");
            if truthy {
                return Ok(value);
            }
            if Instant::now() > deadline {
                bail!("timed out after {limit:?} waiting for `{expression}`");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn find(&self, css: &str) -> anyhow::Result<String> {
        let found = self.call("POST", "/element", Some(json!({"using": "css selector", "value": css})))?;
        found[ELEMENT_KEY].as_str().map(str::to_owned).with_context(|| format!("no element id for {css} in {found}"))
    }

    /// Runs `action` on the first element matching `css`. Pages that poll redraw their
    /// content, so an element found just before a redraw is looked up again (a few times).
    fn on_element(&self, css: &str, action: impl Fn(&str) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let mut attempts = 0;
        loop {
            let element = self.find(css)?;
            match action(&element) {
                Err(err) if attempts < 5 && err.to_string().contains("stale element") => attempts += 1,
                other => return other,
            }
        }
    }

    /// Clicks the first element matching `css` (a real pointer click).
    pub(crate) fn click(&self, css: &str) -> anyhow::Result<()> {
        self.on_element(css, |element| self.call("POST", &format!("/element/{element}/click"), None).map(drop))
    }

    /// Types `text` into the first element matching `css`.
    pub(crate) fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.on_element(css, |element| {
            self.call("POST", &format!("/element/{element}/value"), Some(json!({ "text": text }))).map(drop)
        })
    }

    /// Replaces the text of the first field matching `css` with `text`.
    pub(crate) fn replace_text(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.on_element(css, |element| {
            self.call("POST", &format!("/element/{element}/clear"), None)?;
            self.call("POST", &format!("/element/{element}/value"), Some(json!({ "text": text }))).map(drop)
        })
    }

    /// Saves a PNG screenshot of the window to `path`.
    pub(crate) fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let data = self.call("GET", "/screenshot", None)?;
        let png = base64::engine::general_purpose::STANDARD.decode(data.as_str().context("no screenshot data")?)?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call("DELETE", "", None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
