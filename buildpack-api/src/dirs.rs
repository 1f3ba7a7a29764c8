//! Listing the directories of the contract (`<layers>/<bp>`, env dirs, `exec.d`, …) the
//! way the reference does: sorted by name, a missing directory being empty.

use std::ffi::OsString;
use std::fs::FileType;
use std::io;
use std::path::Path;

/// The entries of `dir` as `(name, type)` (the type of the entry itself, not of a
/// symlink's target), sorted by name; a missing directory has none.
pub fn sorted_entries(dir: &Path) -> io::Result<Vec<(OsString, FileType)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = entries
        .map(|entry| {
            let entry = entry?;
            Ok((entry.file_name(), entry.file_type()?))
        })
        .collect::<io::Result<Vec<_>>>()?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_missing_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            sorted_entries(&dir.path().join("missing"))
                .unwrap()
                .is_empty()
        );
        std::fs::write(dir.path().join("b"), "").unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let got = sorted_entries(dir.path()).unwrap();
        assert_eq!(
            got.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(got[0].1.is_dir() && got[1].1.is_file());
        std::fs::write(dir.path().join("file"), "").unwrap();
        assert!(sorted_entries(&dir.path().join("file")).is_err());
    }
}
