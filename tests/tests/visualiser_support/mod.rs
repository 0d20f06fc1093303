//! Support for the visualiser's browser tests: a minimal W3C WebDriver client
//! ([`webdriver::Browser`]) driving Debian's headless Chromium through `chromedriver`.
//!
//! Why our own client instead of a WebDriver crate such as fantoccini: the tests need a
//! handful of commands (new session, navigate, execute script, find, click, type, screenshot),
//! each one JSON request; the project already builds `ureq` (the worker's blocking HTTP client)
//! and `base64`, so this adds no dependency at all, and it stays synchronous like every other
//! end-to-end test here instead of bringing in an async runtime and hyper's client stack.

pub(crate) mod webdriver;
