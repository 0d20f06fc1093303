//! `/api/<method>`: the RPC endpoint, on GET (query string) and POST (form body).
//!
//! A request carries one field, `data`, holding the JSON object of named arguments. It may come
//! from the query string, from an `application/x-www-form-urlencoded` body (what Python's
//! client sends), or, as a convenience for `curl` users, be the whole body of an
//! `application/json` request. When it appears more than once the last one wins, body after
//! query string, as in Tornado. Absent or empty `data` is `{}`. The text then goes to
//! [`luigi_core::rpc::dispatch_method`], which decodes it, calls the scheduler and encodes the
//! reply.
//!
//! Statuses: 200 with `{"response": ...}`; 404 for an unknown method; 400 for undecodable
//! arguments or text that is not UTF-8; 413 for a body over `[luigid] max_body_size`; 415 for
//! a body of another content type; 500 when the scheduler fails (or panics: a panic is caught
//! and logged, so one bad call cannot take the server down). Error bodies are JSON,
//! `{"error": "<what went wrong>"}`, which Python's client shows when it gives up.
//!
//! Replies are gzipped for clients that accept it (Tornado's `compress_response`), but only
//! where it pays: the listings the visualiser fetches (`task_list`, `graph`, ...) from 1 KiB on,
//! Tornado's threshold, and any other reply from 64 KiB on. Measured here, compressing a 2 KiB
//! `get_work` reply costs several times what serving the whole request does, and workers sit
//! on a LAN where those bytes are cheap. The listing methods run on the blocking pool,
//! compression included; every other method runs inline (see the module docs of `server`).

use std::borrow::Cow;
use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;
use luigi_core::rpc::{self, Method, SchedulerApi};

use super::AppState;

/// Listing replies shorter than this are sent uncompressed (Tornado's
/// `GZipContentEncoding.MIN_LENGTH`).
const GZIP_MIN_LENGTH: usize = 1024;

/// Replies of the hot worker methods shorter than this are sent uncompressed.
const GZIP_MIN_LENGTH_HOT: usize = 64 * 1024;

/// The gzip level: fast. Replies are JSON, which compresses well even at level 1, and the large
/// ones (task lists of the visualiser) are where CPU time matters most.
const GZIP_LEVEL: u32 = 1;

const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=UTF-8");
const GZIP: HeaderValue = HeaderValue::from_static("gzip");
const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("Accept-Encoding");

/// `GET`/`POST /api/<method>`.
pub(super) async fn call(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let name = method_name(request.uri().path());
    let Some(method) = name.as_deref().and_then(Method::from_name) else {
        let shown = name.unwrap_or(Cow::Borrowed(request.uri().path()));
        let error = rpc::Error::NotFound { method: shown.into_owned() };
        tracing::info!(target: "luigi.server", "404 {} {}", request.method(), request.uri().path());
        return error_reply(StatusCode::NOT_FOUND, &error.to_string(), origin.as_ref(), &state);
    };
    let gzip = state.config.compress_responses && accepts_gzip(request.headers());
    let data = match request_data(request, state.config.max_body_size).await {
        Ok(data) => data,
        Err((status, message)) => {
            tracing::warn!(target: "luigi.server", "{} for '{method}': {message}", status.as_u16());
            return error_reply(status, &message, origin.as_ref(), &state);
        }
    };
    let data = data.unwrap_or_default();
    let reply = if runs_on_blocking_pool(method) {
        let api = Arc::clone(&state.api);
        match tokio::task::spawn_blocking(move || answer(&*api, method, &data, gzip)).await {
            Ok(reply) => reply,
            Err(err) => Err(rpc::Error::Internal { method: method.name(), message: err.to_string() }),
        }
    } else {
        answer(&*state.api, method, &data, gzip)
    };
    if let Some(durability) = &state.durability {
        // Whatever this call changed (even if it then failed) was queued before `answer`
        // returned; wait until it and everything before it is on disk, committing it if nobody
        // else is. Calls that changed nothing usually find it already there.
        durability.wait_for(durability.submitted()).await;
    }
    match reply {
        Ok(encoded) => {
            tracing::debug!(target: "luigi.server", "200 /api/{method} ({} bytes)", encoded.body.len());
            let mut response = Response::new(Body::from(encoded.body));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, JSON);
            if state.config.compress_responses {
                headers.insert(header::VARY, ACCEPT_ENCODING);
            }
            if encoded.gzipped {
                headers.insert(header::CONTENT_ENCODING, GZIP);
            }
            state.config.cors_policy.apply_simple(origin.as_ref(), headers);
            response
        }
        Err(error) => {
            let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status.is_server_error() {
                tracing::error!(target: "luigi.server", "{} /api/{method}: {error}", status.as_u16());
            } else {
                tracing::warn!(target: "luigi.server", "{} /api/{method}: {error}", status.as_u16());
            }
            error_reply(status, &error.to_string(), origin.as_ref(), &state)
        }
    }
}

/// `OPTIONS /api/...`: 204, with CORS preflight headers when `[cors]` allows the origin.
pub(super) async fn preflight(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    state.config.cors_policy.apply_preflight(headers.get(header::ORIGIN), response.headers_mut());
    response
}

/// The part of `path` after `/api/`, percent-decoded; `None` if it is not UTF-8.
fn method_name(path: &str) -> Option<Cow<'_, str>> {
    let raw = path.strip_prefix("/api/").unwrap_or_default();
    percent_encoding::percent_decode_str(raw).decode_utf8().ok()
}

/// A reply body, and whether it is gzipped.
struct Encoded {
    body: Vec<u8>,
    gzipped: bool,
}

/// The methods that walk every task or worker; they run on the blocking pool.
fn runs_on_blocking_pool(method: Method) -> bool {
    matches!(
        method,
        Method::Graph
            | Method::DepGraph
            | Method::InverseDepGraph
            | Method::TaskList
            | Method::TaskSearch
            | Method::WorkerList
            | Method::ResourceList
            | Method::Prune
    )
}

/// Calls `method` and encodes the reply, catching a panic of the scheduler as an internal error.
fn answer(api: &dyn SchedulerApi, method: Method, data: &str, gzip: bool) -> Result<Encoded, rpc::Error> {
    let body = std::panic::catch_unwind(AssertUnwindSafe(|| rpc::dispatch_method(api, method, data))).unwrap_or_else(
        |_| {
            Err(rpc::Error::Internal {
                method: method.name(),
                message: "the scheduler panicked (a bug); the panic message is in the server log".to_owned(),
            })
        },
    )?;
    let threshold = if runs_on_blocking_pool(method) { GZIP_MIN_LENGTH } else { GZIP_MIN_LENGTH_HOT };
    if gzip && body.len() >= threshold {
        let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::new(GZIP_LEVEL));
        // Writing into a Vec cannot fail; should it, the reply goes out uncompressed.
        if encoder.write_all(body.as_bytes()).is_ok()
            && let Ok(compressed) = encoder.finish()
        {
            return Ok(Encoded { body: compressed, gzipped: true });
        }
    }
    Ok(Encoded { body: body.into_bytes(), gzipped: false })
}

/// An error reply: `{"error": message}` with CORS headers, so a browser client can read it.
fn error_reply(status: StatusCode, message: &str, origin: Option<&HeaderValue>, state: &AppState) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    let mut response = (status, [(header::CONTENT_TYPE, JSON)], body).into_response();
    state.config.cors_policy.apply_simple(origin, response.headers_mut());
    response
}

/// Whether `Accept-Encoding` lists gzip (or `*`) with a non-zero quality.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let wanted = coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") || coding == "*";
            wanted && parts.all(|param| !is_zero_quality(param))
        })
    })
}

/// Whether a parameter is `q=0` (or `q=0.0`, `q=0.000`).
fn is_zero_quality(param: &str) -> bool {
    let Some((name, value)) = param.split_once('=') else { return false };
    name.trim().eq_ignore_ascii_case("q") && value.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
}

/// How a body is to be read.
enum BodyKind {
    /// `application/x-www-form-urlencoded`, or no content type (a form is what comes without).
    Form,
    /// `application/json`: the body is the `data` text.
    Json,
    /// Anything else.
    Other,
}

fn body_kind(headers: &HeaderMap) -> BodyKind {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return BodyKind::Form };
    let text = value.to_str().unwrap_or_default();
    let essence = text.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        BodyKind::Form
    } else if essence.eq_ignore_ascii_case("application/json") {
        BodyKind::Json
    } else {
        BodyKind::Other
    }
}

/// The `data` text of a request (query string, then body), or `None` when there is none; or
/// the status and message of a request that cannot be read.
pub(super) async fn request_data(request: Request, limit: usize) -> Result<Option<String>, (StatusCode, String)> {
    // A declared length over the limit is refused before any of the body is read. (The limit
    // layer alone would only notice once that much had arrived.)
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err((StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE.to_owned()));
    }
    let mut data = match request.uri().query() {
        Some(query) => find_data(query.as_bytes()).map_err(bad_encoding("query string"))?,
        None => None,
    };
    let kind = body_kind(request.headers());
    // The body limit comes from the router's `DefaultBodyLimit` layer, which this extractor
    // honours for both Content-Length and chunked bodies.
    let body = Bytes::from_request(request, &()).await.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            TOO_LARGE.to_owned()
        } else {
            format!("cannot read the request body: {}", rejection.body_text())
        };
        (status, message)
    })?;
    if body.is_empty() {
        return Ok(data);
    }
    match kind {
        BodyKind::Form => {
            if let Some(found) = find_data(&body).map_err(bad_encoding("form body"))? {
                data = Some(found);
            }
        }
        BodyKind::Json => {
            let text = String::from_utf8(body.into()).map_err(|_| {
                (StatusCode::BAD_REQUEST, "the JSON body is not valid UTF-8; send UTF-8 text".to_owned())
            })?;
            data = Some(text);
        }
        BodyKind::Other => {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the arguments as a form field data=<JSON> (application/x-www-form-urlencoded), \
                 or as an application/json body"
                    .to_owned(),
            ));
        }
    }
    Ok(data)
}

const TOO_LARGE: &str = "the request body is larger than [luigid] max_body_size allows";

fn bad_encoding(place: &'static str) -> impl Fn(NotUtf8) -> (StatusCode, String) {
    move |_| (StatusCode::BAD_REQUEST, format!("the data field in the {place} is not valid UTF-8 once percent-decoded"))
}

/// A percent-decoded field that is not UTF-8.
#[derive(Debug)]
pub(super) struct NotUtf8;

/// The value of the last `data` field of a urlencoded string, decoded (`+` is a space).
pub(super) fn find_data(encoded: &[u8]) -> Result<Option<String>, NotUtf8> {
    let mut last = None;
    for pair in encoded.split(|&byte| byte == b'&') {
        let (key, value) = match pair.iter().position(|&byte| byte == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        // The key is almost always the literal `data`; decode only keys that could spell it.
        let is_data = key == b"data"
            || ((key.contains(&b'%') || key.contains(&b'+')) && decode(key).is_ok_and(|decoded| decoded == "data"));
        if is_data {
            last = Some(value);
        }
    }
    last.map(decode).transpose()
}

/// Form-decodes one key or value: `+` is a space, `%XX` a byte (a `%` without two hex digits
/// stays as it is), and the result must be UTF-8. One pass into a buffer of the input's size:
/// a `data` field is most of every request, so this runs over most bytes luigid receives.
fn decode(raw: &[u8]) -> Result<String, NotUtf8> {
    fn hex(byte: u8) -> Option<u8> {
        match byte {
            b'0'..=b'9' => Some(byte - b'0'),
            b'a'..=b'f' => Some(byte - b'a' + 10),
            b'A'..=b'F' => Some(byte - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.iter().position(|&byte| byte == b'%' || byte == b'+') {
        out.extend_from_slice(&rest[..at]);
        if rest[at] == b'+' {
            out.push(b' ');
            rest = &rest[at + 1..];
            continue;
        }
        match (rest.get(at + 1).copied().and_then(hex), rest.get(at + 2).copied().and_then(hex)) {
            (Some(high), Some(low)) => {
                out.push(high << 4 | low);
                rest = &rest[at + 3..];
            }
            _ => {
                out.push(b'%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.extend_from_slice(rest);
    String::from_utf8(out).map_err(|_| NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_last_data_field() {
        assert_eq!(find_data(b"data=%7B%7D").unwrap().as_deref(), Some("{}"));
        assert_eq!(find_data(b"x=1&data=a&data=b&y").unwrap().as_deref(), Some("b"));
        assert_eq!(find_data(b"d%61ta=%E2%82%AC+x").unwrap().as_deref(), Some("€ x"));
        assert_eq!(find_data(b"data").unwrap().as_deref(), Some(""));
        assert_eq!(find_data(b"data=").unwrap().as_deref(), Some(""));
        assert_eq!(find_data(b"datum=1&").unwrap(), None);
        assert_eq!(find_data(b"").unwrap(), None);
        assert_eq!(find_data(b"data=%zz%4").unwrap().as_deref(), Some("%zz%4"));
        assert_eq!(find_data(b"data=%4%41%2b+%").unwrap().as_deref(), Some("%4A+ %"));
        assert_eq!(find_data(b"data=%7b%22a%22%3A+1%7D").unwrap().as_deref(), Some("{\"a\": 1}"));
        assert_eq!(find_data("data=é".as_bytes()).unwrap().as_deref(), Some("é"));
        assert!(find_data(b"data=%FF").is_err());
        // A bad field that is not `data` does not matter.
        assert_eq!(find_data(b"other=%FF&data=1").unwrap().as_deref(), Some("1"));
    }

    #[test]
    fn gzip_negotiation() {
        let accepts = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            accepts_gzip(&headers)
        };
        assert!(accepts("gzip, deflate"));
        assert!(accepts("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(accepts("x-gzip"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("gzip; q=0.000, identity"));
        assert!(!accepts("deflate, br"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn method_names_are_percent_decoded() {
        assert_eq!(method_name("/api/ping").as_deref(), Some("ping"));
        assert_eq!(method_name("/api/add%5Ftask").as_deref(), Some("add_task"));
        assert_eq!(method_name("/api/").as_deref(), Some(""));
        assert_eq!(method_name("/api/%FF"), None);
    }

    #[test]
    fn graph_walks_go_to_the_blocking_pool() {
        assert!(runs_on_blocking_pool(Method::TaskList));
        assert!(runs_on_blocking_pool(Method::Prune));
        assert!(!runs_on_blocking_pool(Method::GetWork));
        assert!(!runs_on_blocking_pool(Method::AddTask));
    }
}
