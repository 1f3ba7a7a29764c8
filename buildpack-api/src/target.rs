//! Targets: the OS/architecture/distribution combinations a buildpack or extension
//! declares in `[[targets]]`, and matching them against a base image.

use serde::{Deserialize, Serialize};

/// An OS distribution (`[[targets.distros]]`); an empty field matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Distro {
    /// Distribution name (`ID` in `/etc/os-release`), e.g. `ubuntu`.
    #[serde(default)]
    pub name: String,
    /// Distribution version (`VERSION_ID` in `/etc/os-release`), e.g. `22.04`.
    #[serde(default)]
    pub version: String,
}

/// A target a buildpack or extension supports. Empty fields match anything.
///
/// Read from `os`, `arch`, `arch-variant` (the reference's and pack's key) or `variant`
/// (the specification's key; `arch-variant` wins when both are present) and `distros`.
/// Serialized like the reference's JSON (`arch-variant` and `distros` omitted when
/// empty), which is how the reference prints targets in messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "RawTarget")]
pub struct Target {
    /// Operating system (`linux`, `windows`).
    pub os: String,
    /// Architecture (`amd64`, `arm64`, ...).
    pub arch: String,
    /// Architecture variant (`v8`, ...).
    #[serde(rename = "arch-variant", skip_serializing_if = "String::is_empty")]
    pub arch_variant: String,
    /// Supported distributions; empty means any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub distros: Vec<Distro>,
}

#[derive(Deserialize)]
struct RawTarget {
    #[serde(default)]
    os: String,
    #[serde(default)]
    arch: String,
    #[serde(default, rename = "arch-variant")]
    arch_variant: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::or_default")]
    variant: Option<String>,
    #[serde(default)]
    distros: Vec<Distro>,
}

impl From<RawTarget> for Target {
    fn from(raw: RawTarget) -> Self {
        Target {
            os: raw.os,
            arch: raw.arch,
            arch_variant: raw.arch_variant.or(raw.variant).unwrap_or_default(),
            distros: raw.distros,
        }
    }
}

/// The target of a base image (typically the run image recorded in `analyzed.toml`), as
/// plain fields so that platform-side types can convert into it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetQuery {
    /// Image OS; empty when unknown.
    pub os: String,
    /// Image architecture; empty when unknown.
    pub arch: String,
    /// Image architecture variant; empty when unknown.
    pub arch_variant: String,
    /// Image distribution; `None` when neither name nor version is known. Callers
    /// should first fill it from the build container's `/etc/os-release` when the image
    /// does not carry it, as the reference does.
    pub distro: Option<Distro>,
}

/// Empty on either side matches; otherwise the values must be equal.
fn field_matches(a: &str, b: &str) -> bool {
    a.is_empty() || b.is_empty() || a == b
}

impl Target {
    /// A target matching every image (what `[[stacks]] id = "*"` translates to).
    pub fn any() -> Self {
        Self::default()
    }

    /// The target `io.buildpacks.stacks.bionic` translates to: linux/amd64, Ubuntu 18.04.
    pub fn bionic() -> Self {
        Target {
            os: "linux".into(),
            arch: "amd64".into(),
            arch_variant: String::new(),
            distros: vec![Distro {
                name: "ubuntu".into(),
                version: "18.04".into(),
            }],
        }
    }

    /// A target with only an OS, as inferred from the executables a module ships.
    pub fn os_only(os: &str) -> Self {
        Target {
            os: os.into(),
            ..Self::default()
        }
    }

    /// Whether this target is satisfied by `image`: `os`, `arch` and `arch_variant` are
    /// equal unless either side is empty; when distros are listed, the image must carry
    /// distribution data and one listed distro must match its name and version (again
    /// with empty values matching anything).
    pub fn matches(&self, image: &TargetQuery) -> bool {
        if !field_matches(&image.os, &self.os)
            || !field_matches(&image.arch, &self.arch)
            || !field_matches(&image.arch_variant, &self.arch_variant)
        {
            return false;
        }
        if self.distros.is_empty() {
            return true;
        }
        let Some(image_distro) = &image.distro else {
            return false;
        };
        self.distros.iter().any(|d| {
            field_matches(&image_distro.name, &d.name)
                && field_matches(&image_distro.version, &d.version)
        })
    }
}

/// A deprecated `[[stacks]]` entry (Buildpack API < 0.10).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Stack {
    /// Stack ID, or `*` for any stack.
    #[serde(default)]
    pub id: String,
    /// Mixins the buildpack needs (never checked by the reference; kept for display).
    #[serde(default, deserialize_with = "crate::lenient::or_default")]
    pub mixins: Vec<String>,
}

/// The stack ID that translates to a concrete target.
pub const BIONIC_STACK_ID: &str = "io.buildpacks.stacks.bionic";

#[cfg(test)]
mod tests {
    use super::*;

    fn image(os: &str, arch: &str, variant: &str, distro: Option<(&str, &str)>) -> TargetQuery {
        TargetQuery {
            os: os.into(),
            arch: arch.into(),
            arch_variant: variant.into(),
            distro: distro.map(|(n, v)| Distro {
                name: n.into(),
                version: v.into(),
            }),
        }
    }

    fn parse(text: &str) -> Target {
        #[derive(Deserialize)]
        struct Doc {
            targets: Vec<Target>,
        }
        let mut doc: Doc = toml::from_str(text).unwrap();
        doc.targets.remove(0)
    }

    #[test]
    fn reads_both_variant_keys() {
        let t = parse("[[targets]]\nos = \"linux\"\narch = \"arm64\"\nvariant = \"v8\"\n");
        assert_eq!(t.arch_variant, "v8");
        let t = parse("[[targets]]\nos = \"linux\"\narch = \"arm\"\narch-variant = \"v7\"\n");
        assert_eq!(t.arch_variant, "v7");
        let t = parse("[[targets]]\narch-variant = \"v7\"\nvariant = \"v6\"\n");
        assert_eq!(t.arch_variant, "v7");
        // `variant` is not read by the reference: a wrong shape is dropped.
        let t = parse("[[targets]]\nos = \"linux\"\nvariant = 8\n");
        assert_eq!(t, Target::os_only("linux"));
    }

    #[test]
    fn serializes_like_the_reference_json() {
        let t = parse("[[targets]]\nos = \"linux\"\narch = \"arm\"\nvariant = \"v7\"\n");
        let text = toml::to_string(&t).unwrap();
        assert_eq!(
            text,
            "os = \"linux\"\narch = \"arm\"\narch-variant = \"v7\"\n"
        );
        assert_eq!(
            toml::to_string(&Target::any()).unwrap(),
            "os = \"\"\narch = \"\"\n"
        );
        let back: Target = toml::from_str(&toml::to_string(&Target::bionic()).unwrap()).unwrap();
        assert_eq!(back, Target::bionic());
    }

    #[test]
    fn distro_fields_may_be_missing() {
        // samples/buildpacks/batch-script has a distro entry without a name.
        let t = parse(
            "[[targets]]\nos = \"windows\"\n[[targets.distros]]\nversion = \"10.0.20348.1970\"\n",
        );
        assert_eq!(t.distros[0].name, "");
        assert!(t.matches(&image(
            "windows",
            "amd64",
            "",
            Some(("", "10.0.20348.1970"))
        )));
        assert!(!t.matches(&image("windows", "amd64", "", Some(("", "10.0.17763.1")))));
    }

    #[test]
    fn wildcards() {
        let img = image("linux", "amd64", "", Some(("ubuntu", "22.04")));
        assert!(Target::any().matches(&img));
        assert!(Target::os_only("linux").matches(&img));
        assert!(!Target::os_only("windows").matches(&img));
        // Unknown image fields match anything.
        assert!(Target::bionic().matches(&image("", "", "", Some(("", "")))));
        assert!(!Target::bionic().matches(&img));
        assert!(Target::bionic().matches(&image("linux", "amd64", "", Some(("ubuntu", "18.04")))));
    }

    #[test]
    fn variant_rules() {
        let t = parse("[[targets]]\nos = \"linux\"\narch = \"arm64\"\nvariant = \"v8\"\n");
        assert!(t.matches(&image("linux", "arm64", "v8", None)));
        assert!(t.matches(&image("linux", "arm64", "", None)));
        assert!(!t.matches(&image("linux", "arm64", "v9", None)));
        assert!(!t.matches(&image("linux", "amd64", "v8", None)));
    }

    #[test]
    fn distros_need_image_distro() {
        let t = parse(
            "[[targets]]\nos = \"linux\"\n[[targets.distros]]\nname = \"ubuntu\"\nversion = \"22.04\"\n\
             [[targets.distros]]\nname = \"debian\"\n",
        );
        assert!(!t.matches(&image("linux", "amd64", "", None)));
        assert!(t.matches(&image("linux", "amd64", "", Some(("ubuntu", "22.04")))));
        assert!(t.matches(&image("linux", "amd64", "", Some(("debian", "12")))));
        assert!(!t.matches(&image("linux", "amd64", "", Some(("ubuntu", "24.04")))));
        assert!(t.matches(&image("linux", "amd64", "", Some(("ubuntu", "")))));
    }
}
