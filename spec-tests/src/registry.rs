//! A Distribution registry (`docker-registry`) on loopback for the tests: anonymous, basic or token auth, and a fault-injecting proxy in front of it (chosen requests, or a seeded random share of them).
//!
//! Every [`Registry`] is its own `docker-registry serve` process on `127.0.0.1` with a
//! kernel-chosen port, storage in a temporary directory, and is killed on drop (and when
//! the thread that started it dies). Token auth is served by an in-process [`TokenServer`]
//! issuing RS256 JWTs signed with an openssl-made key whose self-signed certificate is
//! both the registry's `rootcertbundle` and the token's `x5c` header. A [`FaultProxy`]
//! forwards to a registry, answering chosen requests with an error status or a connection
//! reset first. Images are seeded with `skopeo copy` and inspected with `skopeo inspect`.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// How long a registry may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// The `service` of the token-auth registry.
const TOKEN_SERVICE: &str = "test-registry";
/// The `issuer` of its tokens.
const TOKEN_ISSUER: &str = "test-token-issuer";

/// A running `docker-registry`, killed on drop.
pub struct Registry {
    dir: tempfile::TempDir,
    child: Child,
    host: String,
    credentials: Option<(String, String)>,
    token: Option<TokenServer>,
}

impl Registry {
    /// A registry anyone may pull from and push to.
    pub fn anonymous() -> Registry {
        Registry::start(|_| String::new(), None, None)
    }

    /// A registry with htpasswd (bcrypt) Basic authentication for one user.
    pub fn basic(user: &str, password: &str) -> Registry {
        let auth = |dir: &Path| {
            let htpasswd = dir.join("htpasswd");
            let ran = crate::run(
                Command::new("htpasswd")
                    .arg("-Bbc")
                    .arg(&htpasswd)
                    .arg(user)
                    .arg(password),
            );
            assert_eq!(ran.code, 0, "htpasswd failed: {}", ran.all());
            format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                htpasswd.display()
            )
        };
        Registry::start(auth, Some((user.into(), password.into())), None)
    }

    /// A registry with Distribution's token authentication, its tokens issued by an
    /// in-process [`TokenServer`] that knows one user (Basic credentials or the
    /// [`TokenServer::identity_token`] as an OAuth2 refresh token).
    pub fn token(user: &str, password: &str) -> Registry {
        let server = TokenServer::start(user, password);
        let auth = format!(
            "auth:\n  token:\n    realm: {}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
            server.realm(),
            server.cert_path().display()
        );
        Registry::start(|_| auth, Some((user.into(), password.into())), Some(server))
    }

    /// An anonymous registry serving HTTPS with a certificate for `127.0.0.1` and
    /// `localhost` issued by a test CA ([`Registry::ca_cert`]).
    pub fn tls() -> Registry {
        let tls = |dir: &Path| {
            let openssl = |args: &[&str]| {
                let ran = crate::run(Command::new("openssl").args(args).current_dir(dir));
                assert_eq!(ran.code, 0, "openssl {args:?} failed: {}", ran.all());
            };
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=test-ca",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
            ]);
            openssl(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "key.pem",
                "-out",
                "req.csr",
            ]);
            fs::write(
                dir.join("ext.cnf"),
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
            )
            .expect("write ext.cnf");
            openssl(&[
                "x509",
                "-req",
                "-in",
                "req.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-out",
                "cert.pem",
            ]);
            format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.join("cert.pem").display(),
                dir.join("key.pem").display()
            )
        };
        Registry::start(tls, None, None)
    }

    /// The CA certificate of a [`Registry::tls`] registry.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// Starts the registry; `auth` prepares its directory and gives YAML appended to the
    /// config (after `http:`, so an `auth:` block or `  tls:` lines under `http`).
    fn start(
        auth: impl FnOnce(&Path) -> String,
        credentials: Option<(String, String)>,
        token: Option<TokenServer>,
    ) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("cnb-registry-")
            .tempdir()
            .expect("tempdir");
        let auth_yaml = auth(dir.path());
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:0\n  secret: test-only-secret\n{auth_yaml}",
                dir.path().join("data").display()
            ),
        )
        .expect("write config");
        let log_path = dir.path().join("registry.log");
        let log = fs::File::create(&log_path).expect("log file");
        let mut cmd = Command::new("docker-registry");
        cmd.arg("serve")
            .arg(&config)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        die_with_parent(&mut cmd);
        let child = cmd.spawn().expect("spawn docker-registry");
        let mut registry = Registry {
            dir,
            child,
            host: String::new(),
            credentials,
            token,
        };
        registry.host = registry.wait_listening();
        registry
    }

    /// Reads the port from the log line `listening on 127.0.0.1:<port>` and waits until it
    /// accepts connections.
    fn wait_listening(&mut self) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let log = self.log();
            if let Some(addr) = log
                .split("listening on ")
                .nth(1)
                .and_then(|rest| rest.split(['"', ' ', ',', '\n']).next())
                .filter(|a| a.starts_with("127.0.0.1:") && TcpStream::connect(a).is_ok())
            {
                return addr.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("docker-registry exited with {status}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `<host>/<path>`, an image name in this registry.
    pub fn image(&self, path: &str) -> String {
        format!("{}/{path}", self.host)
    }

    /// The user and password, for authenticated registries.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// A `CNB_REGISTRY_AUTH` value with this registry's Basic credentials.
    pub fn registry_auth(&self) -> String {
        let (user, password) = self.credentials().expect("registry has no credentials");
        format!(
            r#"{{"{}":"Basic {}"}}"#,
            self.host,
            STANDARD.encode(format!("{user}:{password}"))
        )
    }

    /// Writes `<dir>/config.json`, a docker config with this registry's credentials in
    /// `auths`, and returns its path.
    pub fn docker_config(&self, dir: &Path) -> PathBuf {
        let (user, password) = self.credentials().expect("registry has no credentials");
        let path = dir.join("config.json");
        fs::write(
            &path,
            format!(
                r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
                self.host,
                STANDARD.encode(format!("{user}:{password}"))
            ),
        )
        .expect("write config.json");
        path
    }

    /// The token server of a token-auth registry.
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token.as_ref()
    }

    /// Copies image `tag` of the OCI layout at `layout` to `<host>/<dest>` (`repo:tag`)
    /// with `skopeo copy`, using the registry's credentials.
    pub fn seed(&self, layout: &Path, tag: &str, dest: &str) {
        let mut cmd = Command::new("skopeo");
        cmd.args(["copy", "-q", "--dest-tls-verify=false"]);
        if let Some((u, p)) = self.credentials() {
            cmd.arg(format!("--dest-creds={u}:{p}"));
        }
        cmd.arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}", self.image(dest)));
        let ran = crate::run(&mut cmd);
        assert_eq!(ran.code, 0, "skopeo copy failed:\n{}", ran.all());
    }

    /// The manifest of `<host>/<image>` as `skopeo inspect --raw` gets it.
    pub fn inspect_raw(&self, image: &str) -> Vec<u8> {
        let mut cmd = Command::new("skopeo");
        cmd.args(["inspect", "--tls-verify=false", "--raw"]);
        if let Some((u, p)) = self.credentials() {
            cmd.arg(format!("--creds={u}:{p}"));
        }
        cmd.arg(format!("docker://{}", self.image(image)));
        let out = cmd.output().expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo inspect failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Where the registry stores blob `digest` (`sha256:<hex>`), to corrupt it in tests.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2.min(hex.len())])
            .join(hex)
            .join("data")
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes the child get SIGKILL when the thread that spawned it dies, so a crashed test
/// leaves no registry behind.
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches only the child's own state.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// One request the token server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// How the client authenticated: `basic`, `refresh_token` or `anonymous`.
    pub via: String,
    /// Whether a token was issued.
    pub granted: bool,
}

struct TokenState {
    user: String,
    password: String,
    identity_token: String,
    key: PathBuf,
    x5c: String,
    requests: Mutex<Vec<TokenRequest>>,
}

/// A token endpoint for Distribution's token auth: grants every requested action to the
/// known user (Basic auth on GET, or the refresh token on an OAuth2 POST), nothing to
/// anonymous clients, and refuses wrong credentials with 401.
pub struct TokenServer {
    dir: tempfile::TempDir,
    addr: String,
    state: Arc<TokenState>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TokenServer {
    /// Generates a signing key and certificate and starts serving on a free port.
    pub fn start(user: &str, password: &str) -> TokenServer {
        let dir = tempfile::Builder::new()
            .prefix("cnb-token-")
            .tempdir()
            .expect("tempdir");
        let key = dir.path().join("key.pem");
        let cert = dir.path().join("cert.pem");
        let ran = crate::run(
            Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .args(["-subj", "/CN=test-token-signer"])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
        );
        assert_eq!(ran.code, 0, "openssl req failed: {}", ran.all());
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .expect("openssl x509");
        assert!(der.status.success(), "openssl x509 failed");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind token server");
        let addr = listener.local_addr().expect("addr").to_string();
        let state = Arc::new(TokenState {
            user: user.into(),
            password: password.into(),
            identity_token: format!("refresh-{}", unique()),
            key,
            x5c: STANDARD.encode(&der.stdout),
            requests: Mutex::new(Vec::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(conn) = conn {
                        let state = state.clone();
                        std::thread::spawn(move || serve_token(conn, &state));
                    }
                }
            })
        };
        TokenServer {
            dir,
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>/token`.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// The certificate the registry trusts for tokens.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// The refresh token the server accepts for the user (as docker's `identitytoken`).
    pub fn identity_token(&self) -> &str {
        &self.state.identity_token
    }

    /// The requests answered so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.state.requests.lock().expect("lock").clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers one token request and closes the connection.
fn serve_token(mut conn: TcpStream, state: &TokenState) {
    let Some(req) = read_request(&mut conn) else {
        return;
    };
    let body = match req.content_length() {
        Some(n) => {
            let mut body = req.rest.clone();
            let missing = n.saturating_sub(body.len());
            let mut more = vec![0; missing];
            if conn.read_exact(&mut more).is_err() {
                return;
            }
            body.extend(more);
            String::from_utf8_lossy(&body).into_owned()
        }
        None => String::new(),
    };
    let query = req.path.split_once('?').map(|(_, q)| q).unwrap_or("");
    let params: Vec<(String, String)> = if req.method == "POST" {
        form_pairs(&body)
    } else {
        form_pairs(query)
    };
    let mut scopes: Vec<String> = Vec::new();
    for (k, v) in &params {
        if k == "scope" {
            scopes.extend(v.split(' ').filter(|s| !s.is_empty()).map(str::to_string));
        }
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let basic = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let (via, allowed) = if req.method == "POST" && param("grant_type") == Some("refresh_token") {
        (
            "refresh_token",
            Some(param("refresh_token") == Some(state.identity_token.as_str())),
        )
    } else if let Some(b) = basic {
        (
            "basic",
            Some(b == format!("{}:{}", state.user, state.password)),
        )
    } else {
        ("anonymous", None)
    };
    let granted = allowed != Some(false);
    state.requests.lock().expect("lock").push(TokenRequest {
        method: req.method.clone(),
        scopes: scopes.clone(),
        via: via.into(),
        granted,
    });
    if !granted {
        respond(
            &mut conn,
            401,
            "{\"details\":\"incorrect credentials\"}",
            "",
        );
        return;
    }
    let access: Vec<serde_json::Value> = if allowed == Some(true) {
        scopes
            .iter()
            .filter_map(|s| {
                let mut parts = s.splitn(3, ':');
                let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                let name = name.to_string();
                Some(serde_json::json!({
                    "type": kind,
                    "name": name,
                    "actions": actions.split(',').collect::<Vec<_>>(),
                }))
            })
            .collect()
    } else {
        Vec::new()
    };
    let token = state.sign(&access);
    let reply = serde_json::json!({ "token": token, "access_token": token, "expires_in": 300 });
    respond(&mut conn, 200, &reply.to_string(), "");
}

impl TokenState {
    /// An RS256 JWT for Distribution with `access`.
    fn sign(&self, access: &[serde_json::Value]) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let header = serde_json::json!({ "typ": "JWT", "alg": "RS256", "x5c": [self.x5c] });
        let claims = serde_json::json!({
            "iss": TOKEN_ISSUER,
            "sub": self.user,
            "aud": TOKEN_SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": unique(),
            "access": access,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&self.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("openssl dgst");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write to openssl");
        let out = child.wait_with_output().expect("openssl dgst");
        assert!(out.status.success(), "openssl dgst failed");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(out.stdout))
    }
}

/// A rule of a [`FaultProxy`]: the first `times` requests whose method matches (any when
/// `None`) and whose path contains `path_contains` get `fault` instead of the registry.
#[derive(Debug, Clone)]
pub struct FaultRule {
    /// The method to match, or any.
    pub method: Option<String>,
    /// A substring of the path (and query) to match.
    pub path_contains: String,
    /// What to do instead of forwarding.
    pub fault: Fault,
    /// How many matching requests to fault.
    pub times: usize,
}

/// What a [`FaultProxy`] does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (after reading the request body).
    Status(u16),
    /// Answer with this status and a `Retry-After` of this many seconds.
    StatusRetryAfter(u16, u64),
    /// Reset the connection (RST) after reading the request head.
    Reset,
    /// Hold the request this long, then forward it.
    Stall(Duration),
    /// Forward the request, but cut the response off after its first 512 bytes.
    Truncate,
}

/// Faults a [`FaultProxy`] applies at random: to about `per_mille` of 1000 requests
/// (other than CONNECTs), one of `faults` each time, from a seeded generator.
struct RandomFaults {
    state: u64,
    per_mille: u64,
    faults: Vec<Fault>,
}

impl RandomFaults {
    /// xorshift64*: reproducible for a seed.
    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick(&mut self) -> Option<Fault> {
        if self.faults.is_empty() || self.next() % 1000 >= self.per_mille {
            return None;
        }
        let i = (self.next() % self.faults.len() as u64) as usize;
        Some(self.faults[i].clone())
    }
}

/// A request that went through a [`FaultProxy`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// The method.
    pub method: String,
    /// The path and query.
    pub path: String,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
}

struct ProxyState {
    upstream: String,
    rules: Mutex<Vec<FaultRule>>,
    random: Mutex<Option<RandomFaults>>,
    seen: Mutex<Vec<SeenRequest>>,
}

/// An HTTP proxy on loopback in front of a registry (one request per connection) that
/// faults requests by [`FaultRule`]s and forwards the rest unchanged. It also tunnels
/// `CONNECT` requests, so it can stand for a client's configured HTTP proxy.
pub struct FaultProxy {
    addr: String,
    state: Arc<ProxyState>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`host:port`).
    pub fn start(upstream: &str, rules: Vec<FaultRule>) -> FaultProxy {
        FaultProxy::with(upstream, rules, None)
    }

    /// Starts a proxy to `upstream` that applies one of `faults` to about `per_mille`
    /// of every 1000 requests, chosen by a generator seeded with `seed`.
    pub fn random(upstream: &str, seed: u64, per_mille: u64, faults: Vec<Fault>) -> FaultProxy {
        let random = RandomFaults {
            state: seed | 1,
            per_mille,
            faults,
        };
        FaultProxy::with(upstream, Vec::new(), Some(random))
    }

    fn with(upstream: &str, rules: Vec<FaultRule>, random: Option<RandomFaults>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("addr").to_string();
        let state = Arc::new(ProxyState {
            upstream: upstream.into(),
            rules: Mutex::new(rules),
            random: Mutex::new(random),
            seen: Mutex::new(Vec::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(conn) = conn {
                        let state = state.clone();
                        std::thread::spawn(move || proxy_one(conn, &state));
                    }
                }
            })
        };
        FaultProxy {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:<port>`: use it as the registry host.
    pub fn host(&self) -> &str {
        &self.addr
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.seen.lock().expect("lock").clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Handles one client connection: one request, faulted or forwarded with
/// `Connection: close`.
fn proxy_one(mut client: TcpStream, state: &ProxyState) {
    let Some(req) = read_request(&mut client) else {
        // Not HTTP (a TLS hello, say): drop it.
        return;
    };
    let fault = {
        let mut rules = state.rules.lock().expect("lock");
        rules
            .iter_mut()
            .find(|r| {
                r.times > 0
                    && r.method.as_deref().is_none_or(|m| m == req.method)
                    && req.path.contains(&r.path_contains)
            })
            .map(|r| {
                r.times -= 1;
                r.fault.clone()
            })
    };
    let fault = fault.or_else(|| {
        if req.method == "CONNECT" {
            return None;
        }
        state
            .random
            .lock()
            .expect("lock")
            .as_mut()
            .and_then(RandomFaults::pick)
    });
    state.seen.lock().expect("lock").push(SeenRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        fault: fault.clone(),
    });
    match fault {
        None if req.method == "CONNECT" => tunnel(client, &req),
        Some(Fault::Reset) => {
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: setsockopt on our own open socket with a correctly sized value.
            unsafe {
                libc::setsockopt(
                    client.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
            drop(client);
        }
        Some(Fault::Status(code)) => {
            drain_body(&mut client, &req);
            respond(&mut client, code, "", "");
        }
        Some(Fault::StatusRetryAfter(code, secs)) => {
            drain_body(&mut client, &req);
            respond(&mut client, code, "", &format!("Retry-After: {secs}\r\n"));
        }
        Some(Fault::Stall(delay)) => {
            std::thread::sleep(delay);
            forward(client, state, &req, None);
        }
        Some(Fault::Truncate) => forward(client, state, &req, Some(512)),
        None => forward(client, state, &req, None),
    }
}

/// Sends the request to the registry with `Connection: close` and pipes both ways until
/// the registry closes, or until `limit` bytes of the response went through.
fn forward(client: TcpStream, state: &ProxyState, req: &Request, limit: Option<u64>) {
    let Ok(mut upstream) = TcpStream::connect(&state.upstream) else {
        return;
    };
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.path);
    for (k, v) in &req.headers {
        if !k.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    if upstream.write_all(head.as_bytes()).is_err() || upstream.write_all(&req.rest).is_err() {
        return;
    }
    pipe(client, upstream, limit);
}

/// Answers a `CONNECT host:port` (the tests' clients configured with this proxy) and
/// tunnels the bytes both ways.
fn tunnel(mut client: TcpStream, req: &Request) {
    let Ok(mut upstream) = TcpStream::connect(&req.path) else {
        respond(&mut client, 502, "", "");
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
        || upstream.write_all(&req.rest).is_err()
    {
        return;
    }
    pipe(client, upstream, None);
}

/// Copies both ways until the upstream side closes, or until `limit` bytes came from it.
fn pipe(client: TcpStream, mut upstream: TcpStream, limit: Option<u64>) {
    let (Ok(mut client_in), Ok(mut upstream_out)) = (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let pump = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut upstream_out);
    });
    let mut client_out = client;
    let _ = std::io::copy(
        &mut (&mut upstream).take(limit.unwrap_or(u64::MAX)),
        &mut client_out,
    );
    let _ = client_out.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
    let _ = pump.join();
}

/// A parsed request head and whatever of the body was read with it.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    rest: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn content_length(&self) -> Option<usize> {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    }
}

/// Reads a request head; `None` if the peer closes first or does not speak HTTP.
fn read_request(conn: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if !buf[0].is_ascii_uppercase() {
            return None;
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 << 10 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Request {
        method,
        path,
        headers,
        rest: buf[end + 4..].to_vec(),
    })
}

/// Reads and discards the request body (by length or chunked framing).
fn drain_body(conn: &mut TcpStream, req: &Request) {
    if let Some(n) = req.content_length() {
        let left = (n as u64).saturating_sub(req.rest.len() as u64);
        let _ = std::io::copy(&mut conn.take(left), &mut std::io::sink());
    } else if req.chunked() {
        let mut reader = BufReader::new(std::io::Cursor::new(req.rest.clone()).chain(conn));
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let Ok(size) = u64::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
            else {
                return;
            };
            let _ = std::io::copy(&mut (&mut reader).take(size + 2), &mut std::io::sink());
            if size == 0 {
                return;
            }
        }
    }
}

/// Writes a complete response and closes the connection.
fn respond(conn: &mut TcpStream, status: u16, body: &str, extra_headers: &str) {
    let reply = format!(
        "HTTP/1.1 {status} Status\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(reply.as_bytes());
    let _ = conn.shutdown(Shutdown::Both);
}

/// `k=v&…` pairs, percent- and `+`-decoded.
fn form_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (url_decode(k), url_decode(v))
        })
        .collect()
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A string unlikely to repeat within the test run.
fn unique() -> String {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("{n:x}-{}", std::process::id())
}
