//! Run-image selection from the `run.Dockerfile`s: the last one that names an image
//! other than `${base_image}` switches the run image (the ones before it become moot),
//! and any remaining one with instructions marks the run image for extension.

use buildpack_api::api::ApiVersion;
use buildpack_api::dockerfile::Kind;
use platform_api::files::analyzed::{Analyzed, RunImage};
use platform_api::files::run::Run;

use super::DockerfileInfo;
use crate::log::Logger;

/// Walks the `run.Dockerfile`s from the last: returns the image the last switch names
/// and whether a Dockerfile from that switch on extends; marks earlier ones `ignore`.
fn run_image_from(dockerfiles: &mut [DockerfileInfo], logger: &Logger) -> (Option<String>, bool) {
    let mut new_base = None;
    let mut extend = false;
    let mut ignore_rest = false;
    for dockerfile in dockerfiles.iter_mut().rev() {
        if dockerfile.kind != Kind::Run {
            continue;
        }
        if ignore_rest {
            dockerfile.ignore = true;
            continue;
        }
        extend |= dockerfile.extend;
        if let Some(base) = &dockerfile.with_base {
            logger.debug(format!(
                "Found a run.Dockerfile from extension '{}' setting run image to '{}' ",
                dockerfile.extension_id, base
            ));
            new_base = Some(base.clone());
            ignore_rest = true;
        }
    }
    (new_base, extend)
}

/// The analyzed metadata after run-image selection (marking moot Dockerfiles as a side
/// effect): a new run image replaces `[run-image]` (target data cleared), warning when
/// `<run>` does not list it; extension sets `extend = true`.
pub(super) fn update_analyzed(
    analyzed: &Analyzed,
    platform_api: ApiVersion,
    run: &Run,
    dockerfiles: &mut [DockerfileInfo],
    logger: &Logger,
) -> Analyzed {
    let mut out = analyzed.clone();
    let (new_base, extend) = run_image_from(dockerfiles, logger);
    // From Platform API 0.12 the image is compared exactly as written (a digest in it
    // counts) with the current run image's name.
    let is_new = |image: &str| platform_api.less_than(0, 12) || image != analyzed.run_image_image();
    if let Some(image) = new_base.filter(|i| is_new(i)) {
        if !run.contains(&image) {
            logger.warn(format!(
                "new runtime base image '{image}' not found in run metadata"
            ));
        }
        logger.debug(format!(
            "Updating analyzed metadata with new run image '{image}'"
        ));
        out.run_image = Some(RunImage {
            reference: image.clone(),
            image,
            extend,
            target: None,
        });
    }
    if extend && let Some(run_image) = out.run_image.as_mut() {
        logger.debug("Updating analyzed metadata to indicate run image extension");
        run_image.extend = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Level;
    use platform_api::files::run::RunImageForExport;
    use platform_api::files::target::TargetMetadata;
    use std::path::PathBuf;

    fn run_df(ext: &str, with_base: Option<&str>, extend: bool) -> DockerfileInfo {
        DockerfileInfo {
            extension_id: ext.into(),
            kind: Kind::Run,
            path: PathBuf::from(format!("/g/{ext}/run.Dockerfile")),
            with_base: with_base.map(str::to_string),
            extend,
            ignore: false,
        }
    }

    fn build_df(ext: &str) -> DockerfileInfo {
        DockerfileInfo {
            kind: Kind::Build,
            path: PathBuf::from(format!("/g/{ext}/build.Dockerfile")),
            ..run_df(ext, None, true)
        }
    }

    fn analyzed() -> Analyzed {
        Analyzed {
            run_image: Some(RunImage {
                reference: "orig@sha256:1".into(),
                image: "orig".into(),
                extend: false,
                target: Some(TargetMetadata {
                    os: "linux".into(),
                    arch: "amd64".into(),
                    ..TargetMetadata::default()
                }),
            }),
            ..Analyzed::default()
        }
    }

    fn logger() -> Logger {
        Logger::new(Level::Error)
    }

    fn select(api: u64, dockerfiles: &mut [DockerfileInfo]) -> Option<RunImage> {
        let run = Run {
            images: vec![RunImageForExport {
                image: "known".into(),
                mirrors: vec![],
            }],
        };
        update_analyzed(
            &analyzed(),
            ApiVersion::new(0, api),
            &run,
            dockerfiles,
            &logger(),
        )
        .run_image
    }

    #[test]
    fn only_extending_keeps_the_image() {
        let mut dfs = [
            run_df("a", None, true),
            build_df("a"),
            run_df("b", None, false),
        ];
        let ri = select(13, &mut dfs).unwrap();
        assert_eq!((ri.image.as_str(), ri.extend), ("orig", true));
        assert!(ri.target.is_some(), "target kept when the image is kept");
        assert!(dfs.iter().all(|d| !d.ignore));
    }

    #[test]
    fn last_switch_wins_and_earlier_ones_are_moot() {
        let mut dfs = [
            run_df("a", Some("first"), true),
            run_df("b", None, true),
            build_df("b"),
            run_df("c", Some("known@sha256:2"), false),
            build_df("c"),
        ];
        let ri = select(13, &mut dfs).unwrap();
        assert_eq!(
            ri,
            RunImage {
                reference: "known@sha256:2".into(),
                image: "known@sha256:2".into(),
                extend: false,
                target: None
            }
        );
        let ignored: Vec<bool> = dfs.iter().map(|d| d.ignore).collect();
        assert_eq!(ignored, [true, true, false, false, false]);
    }

    #[test]
    fn a_switch_followed_by_extension_extends_the_new_image() {
        let mut dfs = [run_df("a", Some("new"), false), run_df("b", None, true)];
        let ri = select(12, &mut dfs).unwrap();
        assert_eq!(
            (ri.image.as_str(), ri.extend, ri.target),
            ("new", true, None)
        );
    }

    #[test]
    fn switching_to_the_current_image_is_no_switch_from_0_12() {
        let mut dfs = [run_df("a", Some("orig"), false)];
        let ri = select(12, &mut dfs).unwrap();
        assert_eq!(ri, analyzed().run_image.unwrap());
        let mut dfs = [run_df("a", Some("orig"), false)];
        let ri = select(11, &mut dfs).unwrap();
        assert_eq!((ri.reference.as_str(), ri.target), ("orig", None));
    }

    #[test]
    fn no_run_image_stays_none_when_only_extending() {
        let mut dfs = [run_df("a", None, true)];
        let out = update_analyzed(
            &Analyzed::default(),
            ApiVersion::new(0, 13),
            &Run::default(),
            &mut dfs,
            &logger(),
        );
        assert!(out.run_image.is_none());
    }
}
