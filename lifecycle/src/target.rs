//! Target data of the run image as the build sees it: filled in from the build
//! container's `/etc/os-release` and the host architecture when the image recorded
//! none, and turned into the `CNB_TARGET_*` variables buildpacks receive.

use std::path::Path;

use platform_api::files::target::{OsDistro, TargetMetadata};

use crate::log::Logger;

/// Where the build container describes its distribution.
pub const OS_RELEASE: &str = "/etc/os-release";

/// The host architecture under its Go/OCI name.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Reads `ID` and `VERSION_ID` from an os-release file, as the reference does (quotes
/// and spaces trimmed, lines with more than one `=` ignored).
pub fn read_os_release(path: &Path) -> Option<OsDistro> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut distro = OsDistro::default();
    for line in text.lines() {
        let parts: Vec<&str> = line.split('=').collect();
        if parts.len() != 2 {
            continue;
        }
        let value = parts[1].trim_matches(|c| c == '"' || c == ' ');
        match parts[0] {
            "ID" => distro.name = value.to_string(),
            "VERSION_ID" => distro.version = value.to_string(),
            _ => {}
        }
        if !distro.name.is_empty() && !distro.version.is_empty() {
            break;
        }
    }
    (!distro.name.is_empty() || !distro.version.is_empty()).then_some(distro)
}

/// Completes missing target data the way the reference does before matching targets or
/// exporting `CNB_TARGET_*`: when no distro is recorded, OS defaults to linux, arch to
/// the host's, and the distro is read from `os_release` (saying so once).
pub fn completed(target: &TargetMetadata, os_release: &Path, logger: &Logger) -> TargetMetadata {
    let mut t = target.clone();
    if t.distro.is_some() {
        return t;
    }
    if t.os.is_empty() {
        t.os = "linux".into();
    }
    if t.arch.is_empty() {
        t.arch = host_arch().into();
    }
    logger.info("target distro name/version labels not found, reading /etc/os-release file");
    t.distro = read_os_release(os_release);
    t
}

/// The `CNB_TARGET_*` variables for Buildpack API >= 0.10 (optional ones only when set).
pub fn env_vars(t: &TargetMetadata) -> Vec<(String, String)> {
    let mut vars = vec![
        ("CNB_TARGET_OS".to_string(), t.os.clone()),
        ("CNB_TARGET_ARCH".to_string(), t.arch.clone()),
    ];
    let (name, version) = match &t.distro {
        Some(d) => (d.name.clone(), d.version.clone()),
        None => Default::default(),
    };
    for (key, value) in [
        ("CNB_TARGET_ARCH_VARIANT", t.arch_variant.clone()),
        ("CNB_TARGET_DISTRO_NAME", name),
        ("CNB_TARGET_DISTRO_VERSION", version),
    ] {
        if !value.is_empty() {
            vars.push((key.to_string(), value));
        }
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Level;

    #[test]
    fn os_release_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("os-release");
        std::fs::write(
            &p,
            "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nX=a=b\n",
        )
        .unwrap();
        assert_eq!(
            read_os_release(&p),
            Some(OsDistro {
                name: "ubuntu".into(),
                version: "22.04".into()
            })
        );
        assert_eq!(read_os_release(&dir.path().join("missing")), None);
    }

    #[test]
    fn completion_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("os-release");
        std::fs::write(&p, "ID=debian\nVERSION_ID=\"12\"\n").unwrap();
        let logger = Logger::new(Level::Error);
        let t = completed(&TargetMetadata::default(), &p, &logger);
        assert_eq!(t.os, "linux");
        assert_eq!(t.arch, host_arch());
        let env = env_vars(&t);
        assert!(env.contains(&("CNB_TARGET_DISTRO_NAME".into(), "debian".into())));
        assert!(env.contains(&("CNB_TARGET_DISTRO_VERSION".into(), "12".into())));
        assert!(!env.iter().any(|(k, _)| k == "CNB_TARGET_ARCH_VARIANT"));

        let known = TargetMetadata {
            os: "linux".into(),
            arch: "arm64".into(),
            arch_variant: "v8".into(),
            distro: Some(OsDistro::default()),
            ..TargetMetadata::default()
        };
        assert_eq!(
            completed(&known, &p, &logger),
            known,
            "recorded distro is kept"
        );
    }
}
