//! The app directory cut into layers by `launch.toml` `[[slices]]`, as the reference
//! cuts it: the tree is listed once; each slice takes the files its globs match (Go
//! `filepath.Match` against the path relative to the app directory, a matched directory
//! bringing its whole subtree) among those no earlier slice took, plus the directories
//! between them and the app directory (a directory is taken for good once all its
//! children are); the last layer holds whatever is left. A slice that takes nothing is
//! an empty tar; otherwise a layer starts with the app directory's parents (own owner
//! and mode) and lists its files sorted by full path bytes, owned by the given owner.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use platform_api::files::metadata::Slice;

use super::error::LayerError;
use super::gopath;
use super::source::{LayerSource, Owner};
use super::tarstream::{ChunkSink, TarStream};
use super::walk::{self, Stat};

/// The app directory as listed once, shared by all its slices.
#[derive(Debug)]
struct AppTree {
    /// The directories above the app directory.
    parents: Vec<(PathBuf, Stat)>,
    /// The app directory (index 0) and everything below it, in walk order.
    nodes: Vec<Node>,
    /// Length of the app directory's path plus its trailing slash.
    prefix_len: usize,
}

#[derive(Debug)]
struct Node {
    path: PathBuf,
    stat: Stat,
    parent: Option<usize>,
    children: Vec<usize>,
    depth: usize,
}

/// The files of one app layer.
#[derive(Debug, Clone)]
pub(crate) struct SliceFiles {
    tree: Arc<AppTree>,
    /// Indices into the tree's nodes, sorted by path bytes.
    files: Vec<usize>,
    owner: Owner,
}

impl SliceFiles {
    /// Writes the layer's entries (nothing at all when it has no files).
    pub(crate) fn write<S: ChunkSink>(
        &self,
        stream: &mut TarStream<'_, S>,
    ) -> Result<(), LayerError> {
        if self.files.is_empty() {
            return Ok(());
        }
        for (path, stat) in &self.tree.parents {
            stream.add_file(path, stat, None)?;
        }
        for &i in &self.files {
            let node = &self.tree.nodes[i];
            stream.add_file(&node.path, &node.stat, Some(self.owner))?;
        }
        Ok(())
    }
}

/// The app layers: one per slice in order, then one with everything no slice took
/// (always present, possibly an empty tar). `app_dir` is listed now, once; a relative
/// path is taken from the working directory.
pub fn app_slices(
    app_dir: &Path,
    slices: &[Slice],
    owner: Owner,
) -> Result<Vec<LayerSource>, LayerError> {
    let tree = Arc::new(AppTree::read(&walk::absolute(app_dir)?)?);
    let mut sliced = vec![false; tree.nodes.len()];
    let mut layers = Vec::with_capacity(slices.len() + 1);
    for slice in slices {
        let mut matches = Vec::new();
        for pattern in &slice.paths {
            matches.extend(tree.glob(pattern)?);
        }
        let files = tree.take(&matches, &mut sliced);
        layers.push(tree.layer(files, owner));
    }
    let rest: Vec<usize> = (0..tree.nodes.len()).filter(|&i| !sliced[i]).collect();
    layers.push(tree.layer(rest, owner));
    Ok(layers)
}

impl AppTree {
    fn read(root: &Path) -> Result<AppTree, LayerError> {
        let mut nodes: Vec<Node> = Vec::new();
        // Directories on the path from the root to the entry being visited.
        let mut open: Vec<usize> = Vec::new();
        walk::walk(root, |path, stat| {
            let parent = if nodes.is_empty() {
                None
            } else {
                let parent_path = path.parent();
                while let Some(&top) = open.last() {
                    if Some(nodes[top].path.as_path()) == parent_path {
                        break;
                    }
                    open.pop();
                }
                open.last().copied()
            };
            let index = nodes.len();
            let depth = parent.map_or(0, |p| nodes[p].depth + 1);
            nodes.push(Node {
                path: path.to_path_buf(),
                stat: *stat,
                parent,
                children: Vec::new(),
                depth,
            });
            if let Some(p) = parent {
                nodes[p].children.push(index);
            }
            if stat.is_dir() {
                open.push(index);
            }
            Ok(())
        })?;
        let root_len = root.as_os_str().len();
        Ok(AppTree {
            parents: walk::parents(root)?,
            nodes,
            prefix_len: if root_len == 1 { 1 } else { root_len + 1 },
        })
    }

    /// The entries below the app directory whose relative path matches `pattern`
    /// (cleaned first), in walk order.
    fn glob(&self, pattern: &str) -> Result<Vec<usize>, LayerError> {
        let pattern = gopath::clean(pattern.as_bytes());
        let mut found = Vec::new();
        for (i, node) in self.nodes.iter().enumerate().skip(1) {
            let relative = &node.path.as_os_str().as_bytes()[self.prefix_len..];
            match gopath::glob_match(&pattern, relative) {
                Ok(true) => found.push(i),
                Ok(false) => {}
                Err(gopath::BadPattern) => {
                    return Err(LayerError::BadPattern {
                        name: String::from_utf8_lossy(relative).into_owned(),
                        pattern: String::from_utf8_lossy(&pattern).into_owned(),
                    });
                }
            }
        }
        Ok(found)
    }

    /// Takes `matches` and their subtrees (minus what is already sliced) and the
    /// directories above them; marks what is taken for good in `sliced`.
    fn take(&self, matches: &[usize], sliced: &mut [bool]) -> Vec<usize> {
        const MATCHED: u8 = 1;
        const PARENT: u8 = 2;
        let mut state = vec![0u8; self.nodes.len()];
        let mut files = Vec::new();
        let mut pending: Vec<usize> = Vec::new();
        for &m in matches {
            pending.push(m);
            while let Some(i) = pending.pop() {
                if sliced[i] {
                    continue;
                }
                sliced[i] = true;
                state[i] = MATCHED;
                files.push(i);
                pending.extend_from_slice(&self.nodes[i].children);
            }
        }
        let mut parents_to_check = Vec::new();
        for k in 0..files.len() {
            let mut ancestor = self.nodes[files[k]].parent;
            while let Some(a) = ancestor {
                match state[a] {
                    PARENT => break,
                    MATCHED => {}
                    _ => {
                        state[a] = PARENT;
                        parents_to_check.push(a);
                        files.push(a);
                    }
                }
                ancestor = self.nodes[a].parent;
            }
        }
        // Deepest first, so a directory's children are settled before it.
        parents_to_check.sort_by_key(|&d| std::cmp::Reverse(self.nodes[d].depth));
        for d in parents_to_check {
            sliced[d] = self.nodes[d].children.iter().all(|&c| sliced[c]);
        }
        files
    }

    fn layer(self: &Arc<Self>, mut files: Vec<usize>, owner: Owner) -> LayerSource {
        files.sort_unstable_by(|&a, &b| {
            let a = self.nodes[a].path.as_os_str().as_bytes();
            let b = self.nodes[b].path.as_os_str().as_bytes();
            a.cmp(b)
        });
        LayerSource::slice(SliceFiles {
            tree: Arc::clone(self),
            files,
            owner,
        })
    }
}
