//! Software bills of materials written by buildpacks: `<layer>.sbom.<ext>`,
//! `launch.sbom.<ext>` and `build.sbom.<ext>` in `<layers>/<bp>/`.

use std::fmt;

/// A supported SBOM format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SbomFormat {
    /// CycloneDX JSON.
    CycloneDx,
    /// SPDX JSON.
    Spdx,
    /// Syft JSON.
    Syft,
}

/// Every supported format.
pub const SBOM_FORMATS: [SbomFormat; 3] =
    [SbomFormat::CycloneDx, SbomFormat::Spdx, SbomFormat::Syft];

impl SbomFormat {
    /// The media type declared in `sbom-formats`.
    pub fn media_type(self) -> &'static str {
        match self {
            SbomFormat::CycloneDx => "application/vnd.cyclonedx+json",
            SbomFormat::Spdx => "application/spdx+json",
            SbomFormat::Syft => "application/vnd.syft+json",
        }
    }

    /// The file extension after `sbom.` (`cdx.json`, `spdx.json`, `syft.json`).
    pub fn extension(self) -> &'static str {
        match self {
            SbomFormat::CycloneDx => "cdx.json",
            SbomFormat::Spdx => "spdx.json",
            SbomFormat::Syft => "syft.json",
        }
    }

    /// The name the lifecycle gives the file under `<layers>/sbom/...`
    /// (`sbom.cdx.json`, ...).
    pub fn file_name(self) -> String {
        format!("sbom.{}", self.extension())
    }

    /// The format of a media type (parameters and case ignored).
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        let essence = parse_media_type(media_type)?;
        SBOM_FORMATS.into_iter().find(|f| f.media_type() == essence)
    }

    /// The format of a buildpack-written SBOM file name (`<owner>.sbom.<ext>`).
    pub fn from_file_name(name: &str) -> Option<Self> {
        SBOM_FORMATS
            .into_iter()
            .find(|f| name.ends_with(&format!(".sbom.{}", f.extension())))
    }
}

impl fmt::Display for SbomFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.media_type())
    }
}

/// Why an SBOM file is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SbomError {
    /// The file name matches `*.sbom.*.json` but names no supported format.
    #[error("unsupported SBOM file format: '{0}'")]
    Unsupported(String),
    /// A declared `sbom-formats` entry is not a media type.
    #[error("parsing declared media type: '{0}'")]
    BadDeclaredType(String),
    /// The file's format is not declared in `sbom-formats`.
    #[error("undeclared SBOM media type: '{media_type}' (file '{file}')")]
    Undeclared {
        /// The file name.
        file: String,
        /// Its media type.
        media_type: &'static str,
    },
}

/// If `name` is a buildpack SBOM file name (it matches the glob `*.sbom.*.json`),
/// returns its owner: the text before the first `.` (a layer name, `launch` or
/// `build`). Layer names containing dots therefore never own an SBOM file, as in the
/// reference.
pub fn sbom_file_owner(name: &str) -> Option<&str> {
    let is_sbom = name
        .match_indices(".sbom.")
        .any(|(i, m)| name[i + m.len()..].ends_with(".json"));
    if !is_sbom {
        return None;
    }
    name.split_once('.').map(|(owner, _)| owner)
}

/// Lower-cased `type/subtype` without parameters, or `None` if `value` is not a media
/// type.
fn parse_media_type(value: &str) -> Option<String> {
    let essence = value.split(';').next().unwrap_or_default().trim();
    let is_token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
    };
    match essence.split_once('/') {
        Some((t, s)) if is_token(t) && is_token(s) => Some(essence.to_ascii_lowercase()),
        _ => None,
    }
}

/// Checks that the SBOM file `file_name` has a supported format declared in the
/// buildpack's `sbom-formats`, walking the declared list in order like the reference
/// (an unparsable entry before a match is an error).
pub fn check_declared(file_name: &str, declared: &[String]) -> Result<SbomFormat, SbomError> {
    let format = SbomFormat::from_file_name(file_name)
        .ok_or_else(|| SbomError::Unsupported(file_name.to_string()))?;
    for d in declared {
        let essence = parse_media_type(d).ok_or_else(|| SbomError::BadDeclaredType(d.clone()))?;
        if essence == format.media_type() {
            return Ok(format);
        }
    }
    Err(SbomError::Undeclared {
        file: file_name.to_string(),
        media_type: format.media_type(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paketo_formats() -> Vec<String> {
        vec![
            "application/vnd.cyclonedx+json".into(),
            "application/spdx+json".into(),
            "application/vnd.syft+json".into(),
        ]
    }

    #[test]
    fn formats() {
        for f in SBOM_FORMATS {
            assert_eq!(SbomFormat::from_media_type(f.media_type()), Some(f));
            assert_eq!(
                SbomFormat::from_file_name(&format!("x.{}", f.file_name())),
                Some(f)
            );
        }
        assert_eq!(SbomFormat::CycloneDx.file_name(), "sbom.cdx.json");
        assert_eq!(
            SbomFormat::from_media_type("Application/VND.CycloneDX+JSON; version=1.4"),
            Some(SbomFormat::CycloneDx)
        );
        assert_eq!(SbomFormat::from_media_type("text/plain"), None);
        assert_eq!(SbomFormat::from_file_name("sbom.cdx.json"), None);
        assert_eq!(SbomFormat::Syft.to_string(), "application/vnd.syft+json");
    }

    #[test]
    fn owners() {
        assert_eq!(sbom_file_owner("launch.sbom.cdx.json"), Some("launch"));
        assert_eq!(sbom_file_owner("jdk.sbom.syft.json"), Some("jdk"));
        assert_eq!(sbom_file_owner("my.layer.sbom.spdx.json"), Some("my"));
        assert_eq!(sbom_file_owner("layer.sbom.xml.json"), Some("layer"));
        assert_eq!(sbom_file_owner(".sbom..json"), Some(""));
        assert_eq!(sbom_file_owner("launch.toml"), None);
        assert_eq!(sbom_file_owner("layer.sbom.cdx.xml"), None);
        assert_eq!(sbom_file_owner("sbom.cdx.json"), None);
    }

    #[test]
    fn declared() {
        let formats = paketo_formats();
        assert_eq!(
            check_declared("launch.sbom.cdx.json", &formats),
            Ok(SbomFormat::CycloneDx)
        );
        assert_eq!(
            check_declared("launch.sbom.xml.json", &formats)
                .unwrap_err()
                .to_string(),
            "unsupported SBOM file format: 'launch.sbom.xml.json'"
        );
        let cdx_only = vec!["application/vnd.cyclonedx+json".to_string()];
        assert_eq!(
            check_declared("jdk.sbom.syft.json", &cdx_only)
                .unwrap_err()
                .to_string(),
            "undeclared SBOM media type: 'application/vnd.syft+json' (file 'jdk.sbom.syft.json')"
        );
        assert!(matches!(
            check_declared("jdk.sbom.syft.json", &[]),
            Err(SbomError::Undeclared { .. })
        ));
        let bad_first = vec![
            "cyclonedx".to_string(),
            "application/vnd.syft+json".to_string(),
        ];
        assert!(matches!(
            check_declared("jdk.sbom.syft.json", &bad_first),
            Err(SbomError::BadDeclaredType(_))
        ));
        let bad_after = vec![
            "application/vnd.syft+json".to_string(),
            "cyclonedx".to_string(),
        ];
        assert!(check_declared("jdk.sbom.syft.json", &bad_after).is_ok());
    }
}
