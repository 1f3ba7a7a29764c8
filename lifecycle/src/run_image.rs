//! Choosing the run image among an image and its mirrors (checklist §7): the analyzer
//! picks it from `run.toml` (or the legacy `stack.toml`), the restorer of Platform API
//! 0.14+ checks the one the analyzer picked, the rebaser picks it from the app image's
//! lifecycle metadata.
//!
//! Whether a candidate can be read is the caller's question to answer (a registry
//! request in registry mode; always yes for the daemon and OCI layout, as in the
//! reference).

use platform_api::files::run::{Run, RunImageForExport};

use crate::image::reference::Reference;

/// Why no run image could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunImageError {
    /// There is no image name to start from.
    #[error("missing run image metadata (-run-image)")]
    Missing,
    /// No candidate can be read.
    #[error("failed to find accessible run image")]
    NoneAccessible,
    /// The image the analyzer chose cannot be read any more.
    #[error("selected run image '{0}' is not accessible")]
    SelectedNotAccessible(String),
}

/// The run image to use among `candidates` (its image, then its mirrors): the first
/// readable one on `target_registry` (the output image's registry, normalised as
/// [`Reference::registry`] gives it), else the first readable one at all.
pub fn best_mirror(
    target_registry: &str,
    candidates: &RunImageForExport,
    readable: &dyn Fn(&str) -> bool,
) -> Result<String, RunImageError> {
    if candidates.image.is_empty() {
        return Err(RunImageError::Missing);
    }
    let all: Vec<&str> = std::iter::once(candidates.image.as_str())
        .chain(candidates.mirrors.iter().map(String::as_str))
        .collect();
    let on_target = all.iter().find(|name| {
        Reference::parse(name).is_ok_and(|r| r.registry() == target_registry) && readable(name)
    });
    on_target
        .or_else(|| all.iter().find(|name| readable(name)))
        .map(|name| name.to_string())
        .ok_or(RunImageError::NoneAccessible)
}

/// The run image for the restorer of Platform API 0.14+: the one the analyzer chose
/// (`selected`, `run-image.image` of analyzed.toml), kept as it is when `run.toml` does
/// not list it (an extension switched it), else checked to be still readable. The
/// choice is never made again: a mirror the analyzer picked stays picked.
pub fn resolve_from_analyzed(
    selected: &str,
    run: &Run,
    readable: &dyn Fn(&str) -> bool,
) -> Result<String, RunImageError> {
    if !run.contains(selected) || readable(selected) {
        return Ok(selected.to_string());
    }
    Err(RunImageError::SelectedNotAccessible(selected.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(image: &str, mirrors: &[&str]) -> RunImageForExport {
        RunImageForExport {
            image: image.into(),
            mirrors: mirrors.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn prefers_a_readable_candidate_on_the_target_registry() {
        let c = candidates(
            "first.example/run",
            &["second.example/run", "target.example:5000/run"],
        );
        let all = |_: &str| true;
        assert_eq!(
            best_mirror("target.example:5000", &c, &all).unwrap(),
            "target.example:5000/run"
        );
        // Docker Hub names are compared normalised.
        let hub = candidates("first.example/run", &["docker.io/cnbs/run"]);
        assert_eq!(
            best_mirror("index.docker.io", &hub, &all).unwrap(),
            "docker.io/cnbs/run"
        );
    }

    #[test]
    fn falls_back_to_the_first_readable_in_order() {
        let c = candidates(
            "first.example/run",
            &["second.example/run", "target.example/run"],
        );
        let not_target_nor_first = |n: &str| !n.starts_with("target.") && !n.starts_with("first.");
        assert_eq!(
            best_mirror("target.example", &c, &not_target_nor_first).unwrap(),
            "second.example/run"
        );
        assert_eq!(
            best_mirror("target.example", &c, &|_| false),
            Err(RunImageError::NoneAccessible)
        );
        assert_eq!(
            best_mirror("target.example", &candidates("", &[]), &|_| true),
            Err(RunImageError::Missing)
        );
    }

    #[test]
    fn the_analyzers_choice_is_kept_or_refused_never_redone() {
        let run = Run {
            images: vec![candidates("a.example/run", &["b.example/run"])],
        };
        assert_eq!(
            resolve_from_analyzed("b.example/run", &run, &|_| true).unwrap(),
            "b.example/run"
        );
        assert_eq!(
            resolve_from_analyzed("b.example/run", &run, &|n: &str| n.starts_with("a.")),
            Err(RunImageError::SelectedNotAccessible("b.example/run".into()))
        );
        // Not in run.toml: an extension chose it; no check.
        assert_eq!(
            resolve_from_analyzed("ext.example/run", &run, &|_| false).unwrap(),
            "ext.example/run"
        );
    }
}
