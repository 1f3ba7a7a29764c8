//! Image-name comparison as the reference does it: both names are normalised the way
//! go-containerregistry's `ParseReference(...).Name()` does, after dropping a `sha256`
//! digest, so `ubuntu`, `docker.io/library/ubuntu:latest` and
//! `index.docker.io/library/ubuntu@sha256:...` all compare equal.

const DEFAULT_REGISTRY: &str = "index.docker.io";
const DEFAULT_REGISTRY_ALIAS: &str = "docker.io";
const DEFAULT_TAG: &str = "latest";

/// Whether two image names refer to the same repository and tag.
pub(crate) fn same_image(a: &str, b: &str) -> bool {
    normalize(a) == normalize(b)
}

/// The normalised name (`registry/repository:tag`), or the input when it does not
/// parse as an image reference.
fn normalize(provided: &str) -> String {
    let to_parse = if provided.contains("@sha256:") {
        provided.split('@').next().unwrap_or(provided)
    } else {
        provided
    };
    parse_tag(to_parse).unwrap_or_else(|| provided.to_string())
}

fn parse_tag(name: &str) -> Option<String> {
    let (base, tag) = match name.rsplit_once(':') {
        Some((base, tag)) if !tag.contains('/') => {
            let valid = (1..=128).contains(&tag.len())
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                return None;
            }
            (base, tag)
        }
        _ => (name, DEFAULT_TAG),
    };
    if base.is_empty() {
        return None;
    }
    let (registry, repo) = match base.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) => (first, rest),
        _ => ("", base),
    };
    let repo_valid = (2..=255).contains(&repo.len())
        && repo.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.' | '/')
        });
    let registry_valid = registry
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_' | '[' | ']'));
    if !repo_valid || !registry_valid {
        return None;
    }
    let registry = match registry {
        "" | DEFAULT_REGISTRY_ALIAS => DEFAULT_REGISTRY,
        other => other,
    };
    let library = if registry == DEFAULT_REGISTRY && !repo.contains('/') {
        "library/"
    } else {
        ""
    };
    Some(format!("{registry}/{library}{repo}:{tag}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_go_containerregistry() {
        assert_eq!(normalize("ubuntu"), "index.docker.io/library/ubuntu:latest");
        assert_eq!(
            normalize("docker.io/cnbs/run:bionic"),
            "index.docker.io/cnbs/run:bionic"
        );
        assert_eq!(
            normalize("localhost:5000/run@sha256:abc"),
            "localhost:5000/run:latest"
        );
        assert_eq!(normalize("gcr.io/a/b/c:v1"), "gcr.io/a/b/c:v1");
        assert_eq!(normalize("Not/Valid"), "Not/Valid");
        assert_eq!(normalize("repo:"), "repo:");
        assert!(same_image(
            "ubuntu",
            "index.docker.io/library/ubuntu:latest"
        ));
        assert!(!same_image("ubuntu:22.04", "ubuntu"));
    }
}
