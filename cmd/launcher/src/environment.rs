//! The launch environment: the container's environment minus the lifecycle's inputs,
//! then for each buildpack the `bin`/`lib` directories of all its layers, then the env
//! files of all its layers (`env/`, `env.launch/`, `env.launch/<type>/`).

use buildpack_api::env::{Env, EnvError, default_action};
use buildpack_api::goerr;

use crate::error::{Context, LaunchError};
use crate::layers::BuildpackLayers;

/// Applies every buildpack's launch modifications to `env`, for `process_type` (empty
/// for a user command).
pub(crate) fn apply_layers(
    env: &mut Env,
    buildpacks: &[BuildpackLayers],
    process_type: &str,
) -> Result<(), LaunchError> {
    for bp in buildpacks {
        for layer in &bp.layers {
            env.add_root_dir(layer)
                .map_err(env_error)
                .context("add layer root")?;
        }
        let action = default_action(bp.api);
        for layer in &bp.layers {
            let launch_dir = layer.join("env.launch");
            let mut dirs = vec![layer.join("env"), launch_dir.clone()];
            if !process_type.is_empty() {
                dirs.push(launch_dir.join(process_type));
            }
            for dir in dirs {
                env.add_env_dir(&dir, action)
                    .map_err(env_error)
                    .context("add layer env")?;
            }
        }
    }
    Ok(())
}

/// An env-module error in the reference's words.
fn env_error(err: EnvError) -> LaunchError {
    match err {
        EnvError::RootDir { path, source } => LaunchError::path("stat", &path, &source),
        EnvError::EnvDir { dir, source } => LaunchError::new(format!(
            "apply env files from dir '{}': {}",
            dir.display(),
            goerr::text(&source)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::launch_layers;
    use platform_api::launch::VerifiedBuildpack;
    use std::ffi::OsStr;
    use std::fs;
    use std::path::Path;

    fn bp(id: &str, api: &str) -> VerifiedBuildpack {
        VerifiedBuildpack {
            id: id.into(),
            api: api.parse().unwrap(),
        }
    }

    fn apply(
        env: &mut Env,
        l: &Path,
        bps: &[VerifiedBuildpack],
        t: &str,
    ) -> Result<(), LaunchError> {
        apply_layers(env, &launch_layers(l, bps)?, t)
    }

    fn write(root: &Path, rel: &str, contents: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, contents).unwrap();
    }

    #[test]
    fn buildpacks_in_order_roots_before_env_files() {
        let root = tempfile::tempdir().unwrap();
        let l = root.path();
        fs::create_dir_all(l.join("first/a/bin")).unwrap();
        fs::create_dir_all(l.join("first/b/lib")).unwrap();
        // b's root directories are added before a's env files are applied: a's
        // override replaces what b's `lib` added (interleaving layer by layer would
        // prepend b's `lib` to the override instead).
        write(l, "first/a/env/LD_LIBRARY_PATH.override", "/from-a-env");
        write(l, "first/a/env/PATH.prepend", "/from-a-env:");
        write(l, "first/a/env.launch/OTHER.append", "a");
        write(l, "first/b/env.launch/web/OTHER.append", "web");
        write(l, "first/b/env.launch/OTHER.delim", "+");
        write(l, "first/b/env.launch/OTHER.append", "b");
        write(l, "second/x/env/OTHER", "override");
        write(l, "second/x/env.launch/worker/ONLY_WORKER", "w");
        let bps = [bp("first", "0.9"), bp("second", "0.8")];
        let mut env = Env::for_launch([("PATH", "/cnb/process:/usr/bin:/cnb/lifecycle")]);
        apply(&mut env, l, &bps[..1], "web").unwrap();
        let path = |s: &str| l.join(s).display().to_string();
        assert_eq!(
            env.get("PATH").unwrap(),
            OsStr::new(&format!("/from-a-env:{}:/usr/bin", path("first/a/bin")))
        );
        assert_eq!(env.get("LD_LIBRARY_PATH").unwrap(), "/from-a-env");
        // A `.delim` file only applies within its own directory.
        assert_eq!(env.get("OTHER").unwrap(), "a+bweb");
        let mut env = Env::for_launch(Vec::<(String, String)>::new());
        apply(&mut env, l, &bps, "worker").unwrap();
        assert_eq!(env.get("OTHER").unwrap(), "override");
        assert_eq!(env.get("ONLY_WORKER").unwrap(), "w");
    }

    #[test]
    fn reports_unreadable_env_files_like_the_reference() {
        let root = tempfile::tempdir().unwrap();
        let l = root.path();
        fs::create_dir_all(l.join("bp/layer/env")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", l.join("bp/layer/env/DANGLING")).unwrap();
        let mut env = Env::for_launch(Vec::<(String, String)>::new());
        let err = apply(&mut env, l, &[bp("bp", "0.9")], "").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "add layer env: apply env files from dir '{}': no such file or directory",
                l.join("bp/layer/env").display()
            )
        );
    }
}
