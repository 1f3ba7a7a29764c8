//! The certificate authorities HTTPS connections trust.
//!
//! Like Go on Linux: the first readable bundle among the distributions' usual files (or
//! `SSL_CERT_FILE`), plus every file in the usual certificate directories (or the
//! `SSL_CERT_DIR` list). The binary passes those variables in; nothing is read from the
//! environment here. When no certificate is found at all, Mozilla's bundled roots are used
//! so that a minimal build image can still reach public registries.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ureq::tls::{Certificate, PemItem, RootCerts};

/// Bundles Go looks for on Linux, first readable one wins.
const CERT_FILES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];
/// Directories Go reads every certificate file of on Linux.
const CERT_DIRS: [&str; 2] = ["/etc/ssl/certs", "/etc/pki/tls/certs"];

/// Which certificate authorities to trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsRoots {
    /// The system's, found as Go finds them.
    System {
        /// `SSL_CERT_FILE`: the bundle to read instead of the usual files.
        cert_file: Option<PathBuf>,
        /// `SSL_CERT_DIR` split on `:`: the directories to read instead of the usual ones.
        cert_dirs: Option<Vec<PathBuf>>,
    },
    /// Mozilla's roots compiled into the binary.
    Bundled,
}

impl TlsRoots {
    /// The system roots with Go's default locations.
    pub fn system() -> TlsRoots {
        TlsRoots::System {
            cert_file: None,
            cert_dirs: None,
        }
    }

    /// The roots for ureq.
    pub(crate) fn load(&self) -> RootCerts {
        let TlsRoots::System {
            cert_file,
            cert_dirs,
        } = self
        else {
            return RootCerts::WebPki;
        };
        let mut certs = Vec::new();
        let files: Vec<PathBuf> = match cert_file {
            Some(f) => vec![f.clone()],
            None => CERT_FILES.iter().map(PathBuf::from).collect(),
        };
        for file in files {
            if let Ok(pem) = std::fs::read(&file) {
                append_pem(&pem, &mut certs);
                break;
            }
        }
        let dirs: Vec<PathBuf> = match cert_dirs {
            Some(d) => d.clone(),
            None => CERT_DIRS.iter().map(PathBuf::from).collect(),
        };
        for dir in dirs {
            append_dir(&dir, &mut certs);
        }
        if certs.is_empty() {
            RootCerts::WebPki
        } else {
            RootCerts::Specific(Arc::new(certs))
        }
    }
}

/// Every certificate in every file of `dir` (unreadable or non-PEM files skipped).
fn append_dir(dir: &Path, certs: &mut Vec<Certificate<'static>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if let Ok(pem) = std::fs::read(&path) {
            append_pem(&pem, certs);
        }
    }
}

fn append_pem(pem: &[u8], certs: &mut Vec<Certificate<'static>>) {
    for item in ureq::tls::parse_pem(pem).flatten() {
        if let PemItem::Certificate(c) = item {
            certs.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_file_and_dirs_and_fallback() {
        let dir = tempfile::tempdir().unwrap();
        // No certificates anywhere: the bundled roots.
        let none = TlsRoots::System {
            cert_file: Some(dir.path().join("missing.pem")),
            cert_dirs: Some(vec![dir.path().to_path_buf()]),
        };
        assert!(matches!(none.load(), RootCerts::WebPki));
        assert!(matches!(TlsRoots::Bundled.load(), RootCerts::WebPki));
        // The system store of this machine has certificates.
        match TlsRoots::system().load() {
            RootCerts::Specific(c) => assert!(!c.is_empty()),
            _ => panic!("no system certificates found"),
        }
    }
}
