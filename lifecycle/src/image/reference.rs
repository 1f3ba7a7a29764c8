//! Image references (`registry/repository:tag@digest`) as the reference lifecycle parses them.
//!
//! The reference parses every image name with go-containerregistry's weak validation:
//! the registry defaults to Docker Hub (`index.docker.io`, with `docker.io` rewritten to
//! it), single-segment Docker Hub names get the `library/` namespace, the tag defaults to
//! `latest`, and a digest reference is `<repository>@sha256:<64 hex>` (a tag before the
//! `@` is dropped). The first path segment is a registry only when it is `localhost` or
//! contains a `.` or `:`.

use std::fmt;
use std::path::PathBuf;

/// Docker Hub's registry host, where names without a registry live.
pub const DEFAULT_REGISTRY: &str = "index.docker.io";
/// The alias users write for Docker Hub, rewritten to [`DEFAULT_REGISTRY`].
const DEFAULT_REGISTRY_ALIAS: &str = "docker.io";
/// The tag of a reference that names none.
pub const DEFAULT_TAG: &str = "latest";
/// Docker Hub's namespace for single-segment names (`busybox` is `library/busybox`).
const DEFAULT_NAMESPACE: &str = "library";

const REPOSITORY_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_-./";
const TAG_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A reference that does not parse; worded as go-containerregistry words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not parse reference: {0}")]
pub struct ParseError(pub String);

/// A registry plus a repository in it: the part of a reference that blobs belong to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository {
    registry: String,
    repository: String,
}

impl Repository {
    /// The registry host (and port), e.g. `index.docker.io` or `localhost:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry, e.g. `library/busybox`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// `<registry>/<repository>`, e.g. `index.docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The token scope for `action` (`pull`, `push`, `pull,push`) on this repository.
    pub fn scope(&self, action: &str) -> String {
        format!("repository:{}:{action}", self.repository)
    }

    /// The reference to `tag` in this repository (not validated).
    pub fn tag(&self, tag: &str) -> Reference {
        self.reference(Identifier::Tag(tag.to_string()))
    }

    /// The reference to `digest` (`sha256:<hex>`) in this repository (not validated).
    pub fn digest(&self, digest: &str) -> Reference {
        self.reference(Identifier::Digest(digest.to_string()))
    }

    fn reference(&self, identifier: Identifier) -> Reference {
        let mut r = Reference {
            repo: self.clone(),
            identifier,
            original: String::new(),
        };
        r.original = r.name();
        r
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

/// What a reference points at inside its repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Identifier {
    /// A tag (`latest` when the reference names none).
    Tag(String),
    /// A content digest, `sha256:<64 hex>`.
    Digest(String),
}

/// A parsed image reference: a repository plus a tag or a digest.
///
/// `Display` gives the string it was parsed from, as Go's `String()` does; [`Reference::name`]
/// gives the normalised form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    repo: Repository,
    identifier: Identifier,
    original: String,
}

impl Reference {
    /// Parses `s` like go-containerregistry's `name.ParseReference(s, name.WeakValidation)`:
    /// as a tag reference if that works, else as a digest reference.
    pub fn parse(s: &str) -> Result<Reference, ParseError> {
        parse_tag(s)
            .or_else(|| parse_digest(s))
            .ok_or_else(|| ParseError(s.to_string()))
    }

    /// The repository (registry and path) the reference is in.
    pub fn repo(&self) -> &Repository {
        &self.repo
    }

    /// The registry host (and port), e.g. `index.docker.io`.
    pub fn registry(&self) -> &str {
        &self.repo.registry
    }

    /// The repository path, e.g. `library/busybox`.
    pub fn repository(&self) -> &str {
        &self.repo.repository
    }

    /// The tag, when this is a tag reference.
    pub fn tag(&self) -> Option<&str> {
        match &self.identifier {
            Identifier::Tag(t) => Some(t),
            Identifier::Digest(_) => None,
        }
    }

    /// The digest, when this is a digest reference.
    pub fn digest(&self) -> Option<&str> {
        match &self.identifier {
            Identifier::Digest(d) => Some(d),
            Identifier::Tag(_) => None,
        }
    }

    /// The tag or digest.
    pub fn identifier(&self) -> &str {
        match &self.identifier {
            Identifier::Tag(s) | Identifier::Digest(s) => s,
        }
    }

    /// The normalised full name: `index.docker.io/library/busybox:latest` or
    /// `<registry>/<repository>@sha256:<hex>`.
    pub fn name(&self) -> String {
        match &self.identifier {
            Identifier::Tag(t) => format!("{}:{t}", self.repo),
            Identifier::Digest(d) => format!("{}@{d}", self.repo),
        }
    }

    /// The reference to `digest` in the same repository: `<registry>/<repository>@<digest>`.
    pub fn with_digest(&self, digest: &str) -> Reference {
        self.repo.digest(digest)
    }

    /// Where the image lives inside an OCI layout directory (relative to it):
    /// `<registry>/<repository>/<tag>` or `<registry>/<repository>/sha256/<hex>`.
    pub fn layout_path(&self) -> PathBuf {
        let mut path = PathBuf::from(&self.repo.registry);
        path.push(&self.repo.repository);
        match &self.identifier {
            Identifier::Tag(t) => path.push(t),
            Identifier::Digest(d) => {
                let (alg, hex) = d.split_once(':').unwrap_or((d, ""));
                path.push(alg);
                path.push(hex);
            }
        }
        path
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl std::str::FromStr for Reference {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// `name.NewTag` with weak validation.
fn parse_tag(s: &str) -> Option<Reference> {
    let (base, tag) = match s.rsplit_once(':') {
        // A colon followed by a '/' belongs to a registry's port, not a tag.
        Some((base, tag)) if !tag.contains('/') => {
            // A tag starting with '.' ("..") is refused too (stricter than
            // go-containerregistry's weak validation): as a layout path it would leave
            // the repository's directory.
            if tag.is_empty() || !valid_element(tag, TAG_CHARS, 128) || tag.starts_with('.') {
                return None;
            }
            (base, tag)
        }
        _ => (s, DEFAULT_TAG),
    };
    let repo = parse_repository(base)?;
    Some(Reference {
        repo,
        identifier: Identifier::Tag(tag.to_string()),
        original: s.to_string(),
    })
}

/// `name.NewDigest` with weak validation.
fn parse_digest(s: &str) -> Option<Reference> {
    let (base, digest) = s.split_once('@')?;
    if digest.contains('@') {
        return None;
    }
    let hex = digest.strip_prefix("sha256:")?;
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    // A tag between the repository and the digest is dropped.
    let repo = match parse_tag(base) {
        Some(tagged) => tagged.repo,
        None => parse_repository(base)?,
    };
    Some(Reference {
        repo,
        identifier: Identifier::Digest(digest.to_string()),
        original: s.to_string(),
    })
}

/// `name.NewRepository` with weak validation.
fn parse_repository(name: &str) -> Option<Repository> {
    if name.is_empty() {
        return None;
    }
    let (registry, repo) = match name.split_once('/') {
        Some((first, rest)) if first == "localhost" || first.contains(['.', ':']) => (first, rest),
        _ => ("", name),
    };
    if !valid_element(repo, REPOSITORY_CHARS, 255) || !valid_registry(registry) {
        return None;
    }
    // Empty, "." and ".." path components and registries are refused (stricter than go-containerregistry's
    // weak validation, and what registries refuse anyway): as a layout path they would
    // leave the layout directory.
    if repo
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
        || matches!(registry, "." | "..")
    {
        return None;
    }
    let registry = match registry {
        "" | DEFAULT_REGISTRY_ALIAS => DEFAULT_REGISTRY,
        r => r,
    };
    let repository = if registry == DEFAULT_REGISTRY && !repo.contains('/') {
        format!("{DEFAULT_NAMESPACE}/{repo}")
    } else {
        repo.to_string()
    };
    Some(Repository {
        registry: registry.to_string(),
        repository,
    })
}

/// 1..=max characters, all from `allowed`.
fn valid_element(s: &str, allowed: &str, max: usize) -> bool {
    let n = s.chars().count();
    (1..=max).contains(&n) && s.chars().all(|c| allowed.contains(c))
}

/// Whether `name` is a URI authority without user info, the way Go's `url.Parse("//" + name)`
/// gives it back unchanged: a host (or bracketed IPv6 address) and an optional numeric port.
fn valid_registry(name: &str) -> bool {
    let (host, port) = if let Some(rest) = name.strip_prefix('[') {
        match rest.split_once(']') {
            Some((addr, port)) => (addr, port),
            None => return false,
        }
    } else {
        match name.rfind(':') {
            Some(i) => (&name[..i], &name[i..]),
            None => (name, ""),
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    port_ok
        && !host.contains(|c: char| {
            c.is_whitespace() || c.is_control() || "/?#@[]%\\\"<>^`{|}".contains(c)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components_that_would_leave_a_layout_directory_are_refused() {
        for bad in [
            "example.com/../../outside:evil",
            "example.com/a/../b",
            "a//b",
            "../a:x",
            "./a",
            "example.com/a/.",
            "example.com/a:..",
            "example.com/a:.hidden",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "example.com/a.b/c_d-e:v1.2",
            "a/b.c",
            "localhost/x/y:latest",
        ] {
            assert!(Reference::parse(good).is_ok(), "{good}");
        }
    }

    fn parts(s: &str) -> (String, String, String, String) {
        let r = Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (
            r.registry().to_string(),
            r.repository().to_string(),
            r.identifier().to_string(),
            r.name(),
        )
    }

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn docker_hub_defaults() {
        assert_eq!(
            parts("busybox"),
            (
                "index.docker.io".into(),
                "library/busybox".into(),
                "latest".into(),
                "index.docker.io/library/busybox:latest".into()
            )
        );
        assert_eq!(parts("docker.io/cnbs/sample:1.0").1, "cnbs/sample");
        assert_eq!(parts("docker.io/cnbs/sample:1.0").0, "index.docker.io");
        assert_eq!(parts("docker.io/busybox").1, "library/busybox");
        assert_eq!(parts("index.docker.io/busybox:1").1, "library/busybox");
        assert_eq!(parts("cnbs/sample").0, "index.docker.io");
    }

    #[test]
    fn registry_detection() {
        assert_eq!(parts("localhost/app").0, "localhost");
        assert_eq!(parts("localhost:5000/app:v1").0, "localhost:5000");
        assert_eq!(parts("localhost:5000/app:v1").2, "v1");
        assert_eq!(parts("127.0.0.1:5000/a/b/c").1, "a/b/c");
        assert_eq!(parts("gcr.io/p/app").0, "gcr.io");
        // No dot, colon or localhost: all repository, on Docker Hub.
        assert_eq!(parts("myhost/app").0, "index.docker.io");
        assert_eq!(parts("myhost/app").1, "myhost/app");
        // The port is not a tag.
        assert_eq!(parts("localhost:5000/app").2, "latest");
        assert_eq!(parts("[::1]:5000/app").0, "[::1]:5000");
    }

    #[test]
    fn digests() {
        let s = format!("gcr.io/p/app@sha256:{HEX}");
        let r = Reference::parse(&s).unwrap();
        assert_eq!(r.digest(), Some(format!("sha256:{HEX}").as_str()));
        assert_eq!(r.tag(), None);
        assert_eq!(r.name(), s);
        assert_eq!(r.to_string(), s);
        // A tag before the digest is dropped.
        let r = Reference::parse(&format!("busybox:1.36@sha256:{HEX}")).unwrap();
        assert_eq!(
            r.name(),
            format!("index.docker.io/library/busybox@sha256:{HEX}")
        );
        assert_eq!(r.to_string(), format!("busybox:1.36@sha256:{HEX}"));
    }

    #[test]
    fn rejects_like_go() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox@sha256:abc",
            &format!("busybox@sha512:{HEX}"),
            &format!("busybox@sha256:{}", HEX.to_uppercase()),
            "a b",
            "localhost:port/app",
            "reg.io/app:t@g",
            &format!("app:{}", "t".repeat(129)),
            "reg.io/",
        ] {
            let err = Reference::parse(bad).unwrap_err();
            assert_eq!(err.to_string(), format!("could not parse reference: {bad}"));
        }
        // Tags may be upper case, repositories not.
        assert!(Reference::parse("app:V1").is_ok());
        assert!(Reference::parse(&format!("app:{}", "t".repeat(128))).is_ok());
    }

    #[test]
    fn digest_of_and_layout_paths() {
        let r = Reference::parse("busybox").unwrap();
        let d = r.with_digest(&format!("sha256:{HEX}"));
        assert_eq!(
            d.to_string(),
            format!("index.docker.io/library/busybox@sha256:{HEX}")
        );
        assert_eq!(
            r.layout_path(),
            PathBuf::from("index.docker.io/library/busybox/latest")
        );
        assert_eq!(
            d.layout_path(),
            PathBuf::from(format!("index.docker.io/library/busybox/sha256/{HEX}"))
        );
        assert_eq!(
            Reference::parse("localhost:5000/a/b:v2")
                .unwrap()
                .layout_path(),
            PathBuf::from("localhost:5000/a/b/v2")
        );
        assert_eq!(r.repo().scope("pull"), "repository:library/busybox:pull");
        assert_eq!(
            r.repo().tag("x").name(),
            "index.docker.io/library/busybox:x"
        );
    }
}
