//! Registry credentials: the keychain the reference lifecycle builds.
//!
//! Per registry, in order: the `CNB_REGISTRY_AUTH` map (registry → Authorization header
//! value), then the docker `config.json` (`credHelpers`, then `credsStore`, then `auths`),
//! else anonymous. Everything comes in as explicit inputs ([`KeychainSources`]); the binaries
//! read the environment. A `Credential` never shows its secrets in `Debug` output.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use super::Error;
use crate::image::reference::DEFAULT_REGISTRY;

/// The environment variable holding the platform's registry credentials.
pub const REGISTRY_AUTH_ENV: &str = "CNB_REGISTRY_AUTH";
/// The key docker's files use for Docker Hub.
const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";
/// What a credential helper prints when it has nothing for a server.
const HELPER_NOT_FOUND: &str = "credentials not found in native keychain";

/// Credentials for one registry: any of a Basic secret, a registry token sent as is,
/// and an identity (OAuth2 refresh) token. All empty means anonymous.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credential {
    basic: Option<String>,
    registry_token: Option<String>,
    identity_token: Option<String>,
}

impl Credential {
    /// No credentials.
    pub fn anonymous() -> Credential {
        Credential::default()
    }

    /// A username and password, sent as HTTP Basic authentication.
    pub fn basic(username: &str, password: &str) -> Credential {
        Credential {
            basic: Some(BASE64.encode(format!("{username}:{password}"))),
            ..Credential::default()
        }
    }

    /// A token sent to the registry as `Authorization: Bearer <token>`, without a token
    /// exchange.
    pub fn registry_token(token: &str) -> Credential {
        Credential {
            registry_token: Some(token.to_string()),
            ..Credential::default()
        }
    }

    /// An OAuth2 refresh token exchanged at the registry's token endpoint.
    pub fn identity_token(token: &str) -> Credential {
        Credential {
            identity_token: Some(token.to_string()),
            ..Credential::default()
        }
    }

    /// Parses an Authorization header value as `CNB_REGISTRY_AUTH` holds them:
    /// `Basic <base64>`, `Bearer <token>` or `X-Identity <token>`, the scheme in any case.
    pub fn from_header(value: &str) -> Option<Credential> {
        let (scheme, rest) = value.split_once(' ')?;
        let rest = rest.to_string();
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => Some(Credential {
                basic: Some(rest),
                ..Credential::default()
            }),
            "bearer" => Some(Credential {
                registry_token: Some(rest),
                ..Credential::default()
            }),
            "x-identity" => Some(Credential {
                identity_token: Some(rest),
                ..Credential::default()
            }),
            _ => None,
        }
    }

    /// Whether there is nothing to authenticate with.
    pub fn is_anonymous(&self) -> bool {
        self.basic.is_none() && self.registry_token.is_none() && self.identity_token.is_none()
    }

    /// The base64 `user:password` of Basic authentication.
    pub(crate) fn basic_secret(&self) -> Option<&str> {
        self.basic.as_deref()
    }

    /// The token to send as is.
    pub(crate) fn registry_token_secret(&self) -> Option<&str> {
        self.registry_token.as_deref()
    }

    /// The OAuth2 refresh token.
    pub(crate) fn identity_token_secret(&self) -> Option<&str> {
        self.identity_token.as_deref()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("Credential")
            .field("basic", &redact(&self.basic))
            .field("registry_token", &redact(&self.registry_token))
            .field("identity_token", &redact(&self.identity_token))
            .finish()
    }
}

/// Where a keychain takes credentials from, resolved by the binary from its environment.
#[derive(Debug, Clone, Default)]
pub struct KeychainSources {
    /// The value of `CNB_REGISTRY_AUTH`, if set: a JSON object mapping registries to
    /// Authorization header values.
    pub registry_auth: Option<String>,
    /// Docker-format auth files, the first existing one used (see
    /// [`docker_config_candidates`]).
    pub docker_config_files: Vec<PathBuf>,
    /// The `PATH` to find `docker-credential-<name>` helpers on (the process's own when
    /// `None`).
    pub helper_path: Option<OsString>,
}

/// The auth files the reference's keychain reads, in order: `$DOCKER_CONFIG/config.json`
/// (else `$HOME/.docker/config.json`), then `$REGISTRY_AUTH_FILE`, then podman's
/// `$XDG_RUNTIME_DIR/containers/auth.json` and `$XDG_CONFIG_HOME/containers/auth.json`
/// (`$HOME/.config/...`). `env` looks a variable up.
pub fn docker_config_candidates(env: impl Fn(&str) -> Option<OsString>) -> Vec<PathBuf> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = set("HOME");
    let mut files = Vec::new();
    if let Some(dir) = set("DOCKER_CONFIG") {
        files.push(dir.join("config.json"));
    } else if let Some(home) = &home {
        files.push(home.join(".docker/config.json"));
    }
    if let Some(file) = set("REGISTRY_AUTH_FILE") {
        files.push(file);
    }
    if let Some(dir) = set("XDG_RUNTIME_DIR") {
        files.push(dir.join("containers/auth.json"));
    }
    if let Some(dir) = set("XDG_CONFIG_HOME").or_else(|| home.map(|h| h.join(".config"))) {
        files.push(dir.join("containers/auth.json"));
    }
    files
}

/// Resolves credentials per registry from `CNB_REGISTRY_AUTH` and docker config files,
/// remembering each answer (helpers run at most once per registry).
pub struct Keychain {
    env_auth: HashMap<String, String>,
    docker: Option<DockerConfig>,
    helper_path: Option<OsString>,
    resolved: Mutex<HashMap<String, Credential>>,
}

impl Keychain {
    /// A keychain from its sources. Fails only on a `CNB_REGISTRY_AUTH` value that is not
    /// a JSON object of strings; an unreadable or malformed docker config is ignored, as the
    /// reference ignores it.
    pub fn new(sources: KeychainSources) -> Result<Keychain, KeychainError> {
        let mut env_auth = HashMap::new();
        if let Some(raw) = sources.registry_auth.as_deref().filter(|s| !s.is_empty()) {
            let map: BTreeMap<String, String> =
                serde_json::from_str(raw).map_err(|e| KeychainError(e.to_string()))?;
            for (registry, header) in map {
                env_auth.insert(registry_key(&registry), header);
            }
        }
        let docker = sources
            .docker_config_files
            .iter()
            .find(|p| p.is_file())
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        Ok(Keychain {
            env_auth,
            docker,
            helper_path: sources.helper_path,
            resolved: Mutex::new(HashMap::new()),
        })
    }

    /// A keychain that always answers anonymous.
    pub fn anonymous() -> Keychain {
        Keychain {
            env_auth: HashMap::new(),
            docker: None,
            helper_path: None,
            resolved: Mutex::new(HashMap::new()),
        }
    }

    /// The credentials for `registry` (a registry host as [`Reference::registry`] gives it).
    ///
    /// [`Reference::registry`]: crate::image::reference::Reference::registry
    pub fn resolve(&self, registry: &str) -> Result<Credential, Error> {
        if let Some(c) = self.resolved.lock().expect("keychain lock").get(registry) {
            return Ok(c.clone());
        }
        let credential = self.lookup(registry)?;
        self.resolved
            .lock()
            .expect("keychain lock")
            .insert(registry.to_string(), credential.clone());
        Ok(credential)
    }

    fn lookup(&self, registry: &str) -> Result<Credential, Error> {
        if let Some(header) = self.env_auth.get(registry) {
            return Credential::from_header(header).ok_or_else(|| Error::Credentials {
                registry: registry.to_string(),
                message: format!(
                    "parsing auth header: unknown auth type from header (in {REGISTRY_AUTH_ENV})"
                ),
            });
        }
        let Some(docker) = &self.docker else {
            return Ok(Credential::anonymous());
        };
        let key = if registry == DEFAULT_REGISTRY {
            DOCKER_HUB_AUTH_KEY
        } else {
            registry
        };
        let helper = docker
            .cred_helpers
            .get(key)
            .or(docker.creds_store.as_ref())
            .filter(|h| !h.is_empty());
        Ok(match helper {
            // A failing helper leaves the registry anonymous, as in the reference.
            Some(helper) => self.run_helper(helper, key).unwrap_or_default(),
            None => docker.auth_for(key),
        })
    }

    /// `docker-credential-<helper> get` with the server on stdin.
    fn run_helper(&self, helper: &str, server: &str) -> Option<Credential> {
        let mut cmd = Command::new(format!("docker-credential-{helper}"));
        cmd.arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(path) = &self.helper_path {
            cmd.env("PATH", path);
        }
        let mut child = cmd.spawn().ok()?;
        let mut stdin = child.stdin.take()?;
        // A helper that exits without reading stdin makes this fail; its output decides.
        let _ = stdin.write_all(server.as_bytes());
        drop(stdin);
        let out = child.wait_with_output().ok()?;
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            if !text.contains(HELPER_NOT_FOUND) {
                return None;
            }
            return Some(Credential::anonymous());
        }
        let reply: HelperReply = serde_json::from_slice(&out.stdout).ok()?;
        Some(if reply.username == "<token>" {
            Credential::identity_token(&reply.secret)
        } else if reply.username.is_empty() && reply.secret.is_empty() {
            Credential::anonymous()
        } else {
            Credential::basic(&reply.username, &reply.secret)
        })
    }
}

impl fmt::Debug for Keychain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut registries: Vec<&String> = self.env_auth.keys().collect();
        registries.sort();
        f.debug_struct("Keychain")
            .field("registry_auth_for", &registries)
            .field("docker_config", &self.docker.is_some())
            .finish_non_exhaustive()
    }
}

/// A `CNB_REGISTRY_AUTH` value that is not a JSON object of strings.
#[derive(Debug, Clone, thiserror::Error)]
#[error("reading auth env var: failed to parse {REGISTRY_AUTH_ENV} value: {0}")]
pub struct KeychainError(String);

/// A `CNB_REGISTRY_AUTH` key as a registry host: scheme and path stripped, Docker Hub's
/// alias normalised.
fn registry_key(key: &str) -> String {
    let host = key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"))
        .unwrap_or(key);
    let host = host.split('/').next().unwrap_or(host);
    if host == "docker.io" {
        DEFAULT_REGISTRY.to_string()
    } else {
        host.to_string()
    }
}

/// The parts of a docker `config.json` (or podman `auth.json`) that hold credentials.
#[derive(Debug, Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

/// One `auths` entry.
#[derive(Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "identitytoken")]
    identity_token: String,
    #[serde(default, rename = "registrytoken")]
    registry_token: String,
}

impl fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthEntry(<redacted>)")
    }
}

impl DockerConfig {
    /// The `auths` entry for `key`: exactly, else the first whose key names the same host
    /// once its scheme and path are stripped (docker's file store rule).
    fn auth_for(&self, key: &str) -> Credential {
        let entry = self.auths.get(key).or_else(|| {
            self.auths
                .iter()
                .find(|(k, _)| strip_scheme_and_path(k) == key)
                .map(|(_, v)| v)
        });
        let Some(entry) = entry else {
            return Credential::anonymous();
        };
        let mut credential = Credential::anonymous();
        if !entry.auth.is_empty() {
            // docker decodes `auth` into user and password; an undecodable one is unusable.
            let decoded = BASE64
                .decode(entry.auth.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            if let Some((user, pass)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                credential = Credential::basic(user, pass.trim_end_matches('\0'));
            }
        } else if !entry.username.is_empty() || !entry.password.is_empty() {
            credential = Credential::basic(&entry.username, &entry.password);
        }
        if !entry.identity_token.is_empty() {
            credential.identity_token = Some(entry.identity_token.clone());
        }
        if !entry.registry_token.is_empty() {
            credential.registry_token = Some(entry.registry_token.clone());
        }
        credential
    }
}

fn strip_scheme_and_path(key: &str) -> &str {
    let host = key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"))
        .unwrap_or(key);
    host.split('/').next().unwrap_or(host)
}

/// What a credential helper prints for `get`.
#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keychain(auth: Option<&str>, config: Option<&str>) -> (Keychain, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        if let Some(c) = config {
            std::fs::write(&file, c).unwrap();
        }
        let k = Keychain::new(KeychainSources {
            registry_auth: auth.map(str::to_string),
            docker_config_files: vec![dir.path().join("missing.json"), file],
            helper_path: Some(dir.path().as_os_str().to_owned()),
        })
        .unwrap();
        (k, dir)
    }

    #[test]
    fn env_headers_by_scheme_and_normalised_key() {
        let (k, _d) = keychain(
            Some(
                r#"{"https://reg.io/some/path":"basic dTpw","gcr.io":"Bearer tok","x.io":"X-Identity idt","bad.io":"Digest x"}"#,
            ),
            None,
        );
        assert_eq!(k.resolve("reg.io").unwrap(), Credential::basic("u", "p"));
        assert_eq!(
            k.resolve("gcr.io").unwrap(),
            Credential::registry_token("tok")
        );
        assert_eq!(
            k.resolve("x.io").unwrap(),
            Credential::identity_token("idt")
        );
        assert!(k.resolve("other.io").unwrap().is_anonymous());
        let err = k.resolve("bad.io").unwrap_err().to_string();
        assert!(err.contains("unknown auth type"), "{err}");
    }

    #[test]
    fn malformed_env_value_is_an_error() {
        let err = Keychain::new(KeychainSources {
            registry_auth: Some("{not json".into()),
            ..KeychainSources::default()
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("reading auth env var: failed to parse CNB_REGISTRY_AUTH value:"),
            "{err}"
        );
    }

    #[test]
    fn env_wins_over_docker_config() {
        let cfg = format!(
            r#"{{"auths":{{"reg.io":{{"auth":"{}"}}}}}}"#,
            BASE64.encode("d:dp")
        );
        let (k, _d) = keychain(Some(r#"{"reg.io":"Basic ZTplcA=="}"#), Some(&cfg));
        assert_eq!(k.resolve("reg.io").unwrap(), Credential::basic("e", "ep"));
        let (k, _d) = keychain(Some(r#"{"other.io":"Basic ZTplcA=="}"#), Some(&cfg));
        assert_eq!(k.resolve("reg.io").unwrap(), Credential::basic("d", "dp"));
    }

    #[test]
    fn docker_config_auths() {
        let cfg = format!(
            r#"{{"auths":{{
                "https://index.docker.io/v1/":{{"auth":"{}"}},
                "https://reg.io/v2/":{{"username":"u2","password":"p2"}},
                "tok.io":{{"identitytoken":"idt"}},
                "broken.io":{{"auth":"!!!"}}
            }}}}"#,
            BASE64.encode("hub:pw:with:colons")
        );
        let (k, _d) = keychain(None, Some(&cfg));
        assert_eq!(
            k.resolve("index.docker.io").unwrap(),
            Credential::basic("hub", "pw:with:colons")
        );
        assert_eq!(k.resolve("reg.io").unwrap(), Credential::basic("u2", "p2"));
        assert_eq!(
            k.resolve("tok.io").unwrap(),
            Credential::identity_token("idt")
        );
        assert!(k.resolve("broken.io").unwrap().is_anonymous());
        assert!(k.resolve("none.io").unwrap().is_anonymous());
    }

    #[test]
    fn malformed_docker_config_is_anonymous() {
        let (k, _d) = keychain(None, Some("{"));
        assert!(k.resolve("reg.io").unwrap().is_anonymous());
    }

    #[test]
    fn helpers_run_with_the_given_path() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("docker-credential-fake");
        std::fs::write(
            &script,
            "#!/bin/sh\nread server\ncase \"$server\" in\n\
             reg.io) echo '{\"ServerURL\":\"reg.io\",\"Username\":\"hu\",\"Secret\":\"hp\"}';;\n\
             tok.io) echo '{\"ServerURL\":\"tok.io\",\"Username\":\"<token>\",\"Secret\":\"it\"}';;\n\
             *) echo 'credentials not found in native keychain'; exit 1;;\nesac\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let cfg = dir.path().join("config.json");
        std::fs::write(
            &cfg,
            r#"{"credsStore":"fake","credHelpers":{"other.io":"missing"},"auths":{"reg.io":{"auth":"eDp5"}}}"#,
        )
        .unwrap();
        let k = Keychain::new(KeychainSources {
            registry_auth: None,
            docker_config_files: vec![cfg],
            helper_path: Some(dir.path().as_os_str().to_owned()),
        })
        .unwrap();
        assert_eq!(k.resolve("reg.io").unwrap(), Credential::basic("hu", "hp"));
        assert_eq!(
            k.resolve("tok.io").unwrap(),
            Credential::identity_token("it")
        );
        assert!(k.resolve("nope.io").unwrap().is_anonymous());
        // A helper that is not on the path leaves the registry anonymous.
        assert!(k.resolve("other.io").unwrap().is_anonymous());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credential::basic("user", "hunter2");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && !shown.contains(&BASE64.encode("user:hunter2")));
        let (k, _d) = keychain(Some(r#"{"r.io":"Bearer s3cr3t"}"#), None);
        let shown = format!("{k:?}");
        assert!(
            shown.contains("r.io") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }

    #[test]
    fn candidate_files_follow_the_reference_order() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert_eq!(
            docker_config_candidates(env(&[("HOME", "/h"), ("DOCKER_CONFIG", "/dc")])),
            vec![
                PathBuf::from("/dc/config.json"),
                PathBuf::from("/h/.config/containers/auth.json")
            ]
        );
        assert_eq!(
            docker_config_candidates(env(&[
                ("HOME", "/h"),
                ("REGISTRY_AUTH_FILE", "/a.json"),
                ("XDG_RUNTIME_DIR", "/run/u")
            ])),
            vec![
                PathBuf::from("/h/.docker/config.json"),
                PathBuf::from("/a.json"),
                PathBuf::from("/run/u/containers/auth.json"),
                PathBuf::from("/h/.config/containers/auth.json")
            ]
        );
    }
}
