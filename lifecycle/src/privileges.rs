//! Dropping root: the phases that may start as root (to reach the Docker socket or fix
//! volume ownership) hand cache directories to the build user, then become that user.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::unistd::{Gid, Uid, chown, getgid, getuid, setresgid, setresuid};

/// Gives `paths` (recursively) to `uid:gid` unless the build user can already write to
/// them; paths that do not exist are skipped. A directory the user can write is assumed
/// to have children it can write too, as the reference assumes.
pub fn ensure_owner(uid: u32, gid: u32, paths: &[&Path]) -> io::Result<()> {
    for path in paths {
        if path.as_os_str().is_empty() {
            continue;
        }
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if can_write(uid, gid, &meta) {
            continue;
        }
        chown_tree(path, uid, gid)?;
    }
    Ok(())
}

fn can_write(uid: u32, gid: u32, meta: &fs::Metadata) -> bool {
    meta.uid() == uid || (meta.gid() == gid && meta.mode() & 0o020 != 0) || meta.mode() & 0o002 != 0
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let owner = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
    chown(path, owner.0, owner.1)?;
    if fs::symlink_metadata(path)?.is_dir() {
        for entry in fs::read_dir(path)? {
            let entry = entry?;
            let child = entry.path();
            if entry.file_type()?.is_symlink() {
                nix::unistd::fchownat(
                    nix::fcntl::AT_FDCWD,
                    &child,
                    owner.0,
                    owner.1,
                    nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                )?;
            } else {
                chown_tree(&child, uid, gid)?;
            }
        }
    }
    Ok(())
}

/// Becomes `uid:gid` (real, effective and saved IDs; supplementary groups reduced to
/// `gid` when running as root). Nothing happens when the process already runs as them.
pub fn run_as(uid: u32, gid: u32) -> io::Result<()> {
    if getuid().as_raw() == uid && getgid().as_raw() == gid {
        return Ok(());
    }
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
    if getuid().is_root() {
        nix::unistd::setgroups(&[gid])?;
    }
    setresgid(gid, gid, gid)?;
    setresuid(uid, uid, uid)?;
    Ok(())
}

/// The home directory and user name the system's user database gives `uid` (the
/// `HOME` and `USER` a build user's processes get), `None` when it has no entry.
pub fn user_environment(uid: u32) -> Option<(std::path::PathBuf, String)> {
    let user = nix::unistd::User::from_uid(Uid::from_raw(uid)).ok()??;
    Some((user.dir, user.name))
}

/// Hides the process from the processes it starts as the same user (buildpacks and
/// extensions): once it is not dumpable, its memory and `/proc/<pid>/environ`, where
/// `CNB_REGISTRY_AUTH` may be, are open to privileged users only. Dropping from root
/// does this by itself; this covers phases started as the build user.
pub fn hide_from_children() -> io::Result<()> {
    nix::sys::prctl::set_dumpable(false).map_err(io::Error::from)
}
