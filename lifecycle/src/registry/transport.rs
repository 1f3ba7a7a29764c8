//! One registry's connection state and the HTTP exchange under every operation: choosing
//! the scheme, authenticating (Basic, or bearer tokens per scope set), sending, and
//! turning answers into retryable or final failures.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use ureq::http::{Response, StatusCode};
use ureq::{Body as ResponseBody, SendBody};

use super::Error;
use super::auth::Credential;
use super::challenge::Challenge;
use super::retry::{RetryPolicy, parse_retry_after, retryable_status, retryable_transport};

/// The most of an error or token response read.
const MAX_SMALL_BODY: u64 = 1 << 20;
/// Tokens are renewed this long before they expire.
const TOKEN_MARGIN: Duration = Duration::from_secs(10);
/// The lifetime of a token whose response gives none (the distribution spec's default).
const DEFAULT_TOKEN_LIFETIME: u64 = 60;
/// Sent as `client_id` in OAuth2 token requests.
const CLIENT_ID: &str = "cnb-lifecycle";

/// What the registry at one host has told us: where it is and how to authenticate.
pub(crate) struct Session {
    /// `https://host[:port]` or `http://host[:port]`.
    pub(crate) base: String,
    agent: ureq::Agent,
    credential: Credential,
    challenge: Mutex<Challenge>,
    tokens: Mutex<HashMap<String, Token>>,
    /// Held while a token is fetched.
    fetching: Mutex<()>,
}

struct Token {
    value: String,
    renew_at: Instant,
}

/// A request body.
pub(crate) enum Body<'a> {
    /// No body.
    Empty,
    /// Bytes in memory, sent with their length (an empty slice sends `Content-Length: 0`).
    Bytes(&'a [u8]),
    /// A stream, with `Content-Length` when the length is known, else chunked.
    Reader {
        /// The data.
        reader: &'a mut dyn Read,
        /// Its length, when known.
        len: Option<u64>,
    },
}

/// One HTTP request of an operation.
pub(crate) struct Call<'a> {
    pub(crate) method: &'static str,
    pub(crate) url: String,
    /// Token scopes the request needs (`repository:<name>:<actions>`).
    pub(crate) scopes: &'a [String],
    pub(crate) accept: Option<&'a str>,
    pub(crate) content_type: Option<&'a str>,
    pub(crate) body: Body<'a>,
}

impl Call<'_> {
    /// `METHOD url-without-query`, for error messages.
    pub(crate) fn describe(&self) -> String {
        describe(self.method, &self.url)
    }
}

/// `METHOD url` without the query string (upload locations carry opaque state there).
pub(crate) fn describe(method: &str, url: &str) -> String {
    let url = url.split('?').next().unwrap_or(url);
    format!("{method} {url}")
}

/// A failed attempt: the error to report and whether trying again may help.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: Error,
    pub(crate) retryable: bool,
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    /// A failure that another attempt will not fix.
    pub(crate) fn fatal(error: Error) -> Failure {
        Failure {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    /// A protocol violation by the registry.
    pub(crate) fn protocol(request: String, message: impl Into<String>) -> Failure {
        Failure::fatal(Error::Protocol {
            request,
            message: message.into(),
        })
    }

    /// A failed exchange: retryable when the error is a transient network failure.
    pub(crate) fn transport(request: String, err: &ureq::Error) -> Failure {
        Failure {
            error: Error::Network {
                request,
                message: err.to_string(),
                attempts: 1,
            },
            retryable: retryable_transport(err),
            retry_after: None,
        }
    }

    /// An answer with a status the operation did not expect, reading the registry's error
    /// codes from the body.
    pub(crate) fn status(request: String, resp: &mut Response<ResponseBody>) -> Failure {
        let status = resp.status().as_u16();
        let retry_after = parse_retry_after(header(resp, "retry-after"));
        let detail = error_detail(resp);
        let error = match status {
            404 => Error::NotFound { request, detail },
            401 => Error::Unauthorized { request, detail },
            403 => Error::Forbidden { request, detail },
            _ => Error::Status {
                request,
                status,
                detail,
                attempts: 1,
            },
        };
        Failure {
            error,
            retryable: retryable_status(status),
            retry_after,
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good, or `policy` allows no more tries.
pub(crate) fn retrying<T>(
    policy: &RetryPolicy,
    mut attempt: impl FnMut() -> Result<T, Failure>,
) -> Result<T, Error> {
    let mut tries = 1;
    loop {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(f) if f.retryable && tries < policy.attempts.max(1) => {
                std::thread::sleep(policy.delay(tries, f.retry_after));
                tries += 1;
            }
            Err(mut f) => {
                if let Error::Network { attempts, .. } | Error::Status { attempts, .. } =
                    &mut f.error
                {
                    *attempts = tries;
                }
                return Err(f.error);
            }
        }
    }
}

/// A header's value, if present and text.
pub(crate) fn header<'r>(resp: &'r Response<ResponseBody>, name: &str) -> Option<&'r str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The body, up to `max` bytes (a longer one is a protocol error).
pub(crate) fn read_body(
    request: &str,
    resp: &mut Response<ResponseBody>,
    max: u64,
) -> Result<Vec<u8>, Failure> {
    resp.body_mut()
        .with_config()
        .limit(max)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => Failure::protocol(
                request.to_string(),
                format!("response larger than {max} bytes"),
            ),
            e => Failure::transport(request.to_string(), &e),
        })
}

/// The registry's error codes and messages (`CODE: message; …`) from an error body; empty
/// when the body is not the distribution spec's error JSON. Nothing else of the body is
/// repeated, so an echoing server cannot put secrets into messages.
fn error_detail(resp: &mut Response<ResponseBody>) -> String {
    #[derive(Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let Ok(bytes) = resp
        .body_mut()
        .with_config()
        .limit(MAX_SMALL_BODY)
        .read_to_vec()
    else {
        return String::new();
    };
    let Ok(parsed) = serde_json::from_slice::<Errors>(&bytes) else {
        return String::new();
    };
    parsed
        .errors
        .iter()
        .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
            (false, false) => format!("{}: {}", e.code, e.message),
            (false, true) => e.code.clone(),
            _ => e.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `url` with `key=value` appended to its query.
pub(crate) fn with_query(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={}", query_escape(value))
}

impl Session {
    /// Finds out how to reach `registry` (`GET /v2/`): HTTPS, or plain HTTP after a failed
    /// HTTPS connection when `http_fallback`, and how it wants to be authenticated.
    pub(crate) fn connect(
        registry: &str,
        agent: ureq::Agent,
        credential: Credential,
        http_fallback: bool,
        policy: &RetryPolicy,
    ) -> Result<Session, Error> {
        let https = format!("https://{registry}");
        let challenge = if http_fallback {
            // One HTTPS try; a connection or handshake failure means plain HTTP.
            match ping(&agent, &https) {
                Ok(c) => Ok((https, c)),
                Err(f) if matches!(f.error, Error::Network { .. }) => {
                    let http = format!("http://{registry}");
                    retrying(policy, || ping(&agent, &http))
                        .map(|c| (http, c))
                        .map_err(|plain| both_failed(f.error, plain))
                }
                Err(f) if f.retryable => {
                    retrying(policy, || ping(&agent, &https)).map(|c| (https.clone(), c))
                }
                Err(f) => Err(f.error),
            }
        } else {
            retrying(policy, || ping(&agent, &https)).map(|c| (https.clone(), c))
        };
        let (base, challenge) = challenge?;
        Ok(Session {
            base,
            agent,
            credential,
            challenge: Mutex::new(challenge),
            tokens: Mutex::new(HashMap::new()),
            fetching: Mutex::new(()),
        })
    }

    /// Sends `call`, authenticated as the registry asks. A 401 whose challenge gives hope
    /// (a new scheme, or a bearer token to renew or widen) is answered once more with fresh
    /// credentials, when the body can be sent again (not a stream). The response is returned
    /// whatever its status.
    pub(crate) fn exchange(&self, call: &mut Call<'_>) -> Result<Response<ResponseBody>, Failure> {
        let mut scopes: Vec<String> = call.scopes.to_vec();
        let mut renew = false;
        loop {
            let auth = self.authorization(&scopes)?;
            let mut resp = self.send(call, auth.as_deref())?;
            if resp.status() != StatusCode::UNAUTHORIZED || renew {
                return Ok(resp);
            }
            let Some(challenge) = Challenge::parse(
                resp.headers()
                    .get_all("www-authenticate")
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            ) else {
                return Ok(resp);
            };
            if !self.learn(challenge, &mut scopes) {
                return Ok(resp);
            }
            if matches!(call.body, Body::Reader { .. }) {
                // The stream is spent: let the operation start over with fresh credentials.
                let mut f = Failure::status(call.describe(), &mut resp);
                f.retryable = true;
                return Err(f);
            }
            renew = true;
        }
    }

    /// Takes a 401's challenge into account; whether asking again may succeed.
    fn learn(&self, challenge: Challenge, scopes: &mut Vec<String>) -> bool {
        let mut current = self.challenge.lock().expect("challenge lock");
        let hope = match &challenge {
            Challenge::Bearer { scope, .. } => {
                if let Some(scope) = scope.as_ref().filter(|s| !scopes.contains(s)) {
                    scopes.push(scope.clone());
                }
                // A registry token is sent as is: asking again changes nothing.
                self.credential.registry_token_secret().is_none()
                    || !matches!(*current, Challenge::Bearer { .. })
            }
            Challenge::Basic => {
                *current != Challenge::Basic
                    && (self.credential.basic_secret().is_some()
                        || self.credential.registry_token_secret().is_some())
            }
            Challenge::None => false,
        };
        if let Challenge::Bearer { realm, service, .. } = &challenge {
            // The tokens were refused: none of them is worth sending again.
            self.tokens.lock().expect("token lock").clear();
            *current = Challenge::Bearer {
                realm: realm.clone(),
                service: service.clone(),
                scope: None,
            };
        } else {
            *current = challenge;
        }
        hope
    }

    /// The Authorization header value for a request needing `scopes` (a token refused by
    /// the registry is no longer cached: see [`Session::learn`]).
    fn authorization(&self, scopes: &[String]) -> Result<Option<String>, Failure> {
        let challenge = self.challenge.lock().expect("challenge lock").clone();
        let c = &self.credential;
        match challenge {
            Challenge::None => Ok(None),
            Challenge::Basic => Ok(c
                .basic_secret()
                .map(|b| format!("Basic {b}"))
                .or_else(|| c.registry_token_secret().map(|t| format!("Bearer {t}")))),
            Challenge::Bearer { realm, service, .. } => {
                if let Some(t) = c.registry_token_secret() {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let mut key: Vec<&str> = scopes.iter().map(String::as_str).collect();
                key.sort_unstable();
                key.dedup();
                let key = key.join(" ");
                let cached = || {
                    let tokens = self.tokens.lock().expect("token lock");
                    tokens
                        .get(&key)
                        .filter(|t| Instant::now() < t.renew_at)
                        .map(|t| format!("Bearer {}", t.value))
                };
                if let Some(header) = cached() {
                    return Ok(Some(header));
                }
                // One fetch at a time: concurrent requests wait for it and reuse its token.
                let _fetching = self.fetching.lock().expect("fetch lock");
                if let Some(header) = cached() {
                    return Ok(Some(header));
                }
                let token = self.fetch_token(&realm, service.as_deref(), scopes)?;
                let header = format!("Bearer {}", token.value);
                self.tokens.lock().expect("token lock").insert(key, token);
                Ok(Some(header))
            }
        }
    }

    /// Gets a bearer token for `scopes` from the realm: an OAuth2 refresh-token POST when
    /// there is an identity token (falling back to GET on 404), else a GET with Basic
    /// credentials (or none).
    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<Token, Failure> {
        if let Some(refresh) = self.credential.identity_token_secret() {
            let mut form = format!(
                "grant_type=refresh_token&refresh_token={}&client_id={CLIENT_ID}&scope={}",
                query_escape(refresh),
                query_escape(&scopes.join(" "))
            );
            if let Some(s) = service {
                form.push_str(&format!("&service={}", query_escape(s)));
            }
            let mut call = Call {
                method: "POST",
                url: realm.to_string(),
                scopes: &[],
                accept: None,
                content_type: Some("application/x-www-form-urlencoded"),
                body: Body::Bytes(form.as_bytes()),
            };
            let mut resp = self.send_to_realm(&mut call, None)?;
            if resp.status() != StatusCode::NOT_FOUND {
                return token_from(&call.describe(), &mut resp);
            }
        }
        let mut url = realm.to_string();
        for scope in scopes {
            url = with_query(&url, "scope", scope);
        }
        if let Some(s) = service {
            url = with_query(&url, "service", s);
        }
        let mut call = Call {
            method: "GET",
            url,
            scopes: &[],
            accept: None,
            content_type: None,
            body: Body::Empty,
        };
        let basic = self.credential.basic_secret().map(|b| format!("Basic {b}"));
        let mut resp = self.send_to_realm(&mut call, basic.as_deref())?;
        token_from(&call.describe(), &mut resp)
    }

    fn send_to_realm(
        &self,
        call: &mut Call<'_>,
        auth: Option<&str>,
    ) -> Result<Response<ResponseBody>, Failure> {
        let request = call.describe();
        let mut builder = ureq::http::Request::builder()
            .method(call.method)
            .uri(&call.url);
        if let Some(a) = auth {
            builder = builder.header("authorization", a);
        }
        self.run(builder, call, request)
    }

    /// One HTTP exchange; the Authorization header only goes to this registry's host.
    fn send(
        &self,
        call: &mut Call<'_>,
        auth: Option<&str>,
    ) -> Result<Response<ResponseBody>, Failure> {
        let request = call.describe();
        let mut builder = ureq::http::Request::builder()
            .method(call.method)
            .uri(&call.url);
        if let Some(a) = call.accept {
            builder = builder.header("accept", a);
        }
        let same_host = call
            .url
            .strip_prefix(&self.base)
            .is_some_and(|rest| rest.starts_with('/'));
        if let Some(a) = auth.filter(|_| same_host) {
            builder = builder.header("authorization", a);
        }
        self.run(builder, call, request)
    }

    fn run(
        &self,
        mut builder: ureq::http::request::Builder,
        call: &mut Call<'_>,
        request: String,
    ) -> Result<Response<ResponseBody>, Failure> {
        if let Some(ct) = call.content_type {
            builder = builder.header("content-type", ct);
        }
        let result = match &mut call.body {
            Body::Empty => self.agent.run(built(&request, builder.body(()))?),
            // A slice is sent with its length, `Content-Length: 0` included.
            Body::Bytes(bytes) => self.agent.run(built(&request, builder.body(*bytes))?),
            Body::Reader { reader, len } => {
                if let Some(len) = len {
                    builder = builder.header("content-length", *len);
                }
                self.agent.run(built(
                    &request,
                    builder.body(SendBody::from_reader(*reader)),
                )?)
            }
        };
        result.map_err(|e| Failure::transport(request, &e))
    }
}

/// A request, or the reason it could not be built.
fn built<T>(
    request: &str,
    b: Result<ureq::http::Request<T>, ureq::http::Error>,
) -> Result<ureq::http::Request<T>, Failure> {
    b.map_err(|e| Failure::protocol(request.to_string(), format!("building request: {e}")))
}

/// The error when neither HTTPS nor the plain-HTTP fallback worked: both causes, as the
/// HTTPS one (a certificate problem, say) is usually the one that matters.
fn both_failed(https: Error, http: Error) -> Error {
    // The attempts are said once, at the end.
    let (http, attempts) = match http {
        Error::Network {
            request,
            message,
            attempts,
        } => (format!("{request}: {message}"), attempts),
        other => (other.to_string(), 1),
    };
    let (request, message) = match https {
        Error::Network {
            request, message, ..
        } => (request, message),
        other => (String::new(), other.to_string()),
    };
    Error::Network {
        request,
        message: format!("{message}; over plain HTTP: {http}"),
        attempts,
    }
}

/// `GET <base>/v2/`: the registry's authentication challenge.
fn ping(agent: &ureq::Agent, base: &str) -> Result<Challenge, Failure> {
    let url = format!("{base}/v2/");
    let request = describe("GET", &url);
    let mut resp = agent
        .get(&url)
        .call()
        .map_err(|e| Failure::transport(request.clone(), &e))?;
    match resp.status().as_u16() {
        200 => Ok(Challenge::None),
        401 => Challenge::parse(
            resp.headers()
                .get_all("www-authenticate")
                .iter()
                .filter_map(|v| v.to_str().ok()),
        )
        .ok_or_else(|| Failure::protocol(request, "unrecognized authentication challenge")),
        _ => Err(Failure::status(request, &mut resp)),
    }
}

/// The token of a token endpoint's answer (`token` or `access_token`, `expires_in`).
fn token_from(request: &str, resp: &mut Response<ResponseBody>) -> Result<Token, Failure> {
    #[derive(Deserialize)]
    struct Reply {
        #[serde(default)]
        token: String,
        #[serde(default)]
        access_token: String,
        expires_in: Option<u64>,
    }
    if resp.status() != StatusCode::OK {
        return Err(Failure::status(request.to_string(), resp));
    }
    let bytes = read_body(request, resp, MAX_SMALL_BODY)?;
    // The body holds the token: never quote it in an error.
    let reply: Reply = serde_json::from_slice(&bytes)
        .map_err(|_| Failure::protocol(request.to_string(), "malformed token response"))?;
    let value = if reply.access_token.is_empty() {
        reply.token
    } else {
        reply.access_token
    };
    if value.is_empty() {
        return Err(Failure::protocol(
            request.to_string(),
            "no token in token response",
        ));
    }
    let lifetime = Duration::from_secs(reply.expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME));
    Ok(Token {
        value,
        renew_at: Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_queries() {
        assert_eq!(
            describe(
                "PUT",
                "http://r/v2/a/blobs/uploads/u?_state=secret&digest=x"
            ),
            "PUT http://r/v2/a/blobs/uploads/u"
        );
        assert_eq!(
            with_query("http://t/token", "scope", "repository:a/b:pull,push"),
            "http://t/token?scope=repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(
            with_query("http://t/token?x=1", "service", "s s"),
            "http://t/token?x=1&service=s%20s"
        );
    }

    #[test]
    fn retrying_counts_attempts() {
        let policy = RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::from_millis(1),
            factor: 1,
            max_retry_after: Duration::from_millis(1),
        };
        let mut n = 0;
        let err = retrying(&policy, || -> Result<(), Failure> {
            n += 1;
            Err(Failure {
                error: Error::Network {
                    request: "GET x".into(),
                    message: "reset".into(),
                    attempts: 1,
                },
                retryable: true,
                retry_after: None,
            })
        })
        .unwrap_err();
        assert_eq!(n, 3);
        assert_eq!(err.to_string(), "GET x: reset (after 3 attempts)");
        let mut n = 0;
        let err = retrying(&policy, || -> Result<(), Failure> {
            n += 1;
            Err(Failure::protocol("GET y".into(), "bad"))
        })
        .unwrap_err();
        assert_eq!((n, err.to_string()), (1, "GET y: bad".to_string()));
    }
}
