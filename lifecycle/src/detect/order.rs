//! Walking an order: groups tried in turn, composite buildpacks expanded in place depth
//! first, optional entries tried with and then without, already-seen IDs skipped,
//! targets and execution environments checked, detects of one group run concurrently
//! (each module detected at most once per run), and the first group whose plan resolves
//! wins.

use std::collections::HashMap;
use std::path::PathBuf;

use buildpack_api::api::ApiVersion;
use buildpack_api::descriptor::exec_env_allows;
use buildpack_api::group::{Group, GroupElement, Order};
use buildpack_api::target::Target;

use super::logbuf::LogBuffer;
use super::resolve::{self, CODE_LIFECYCLE_ERROR, DetectRun, GroupFailure, Resolved};
use crate::log::Logger;
use platform_api::files::target::TargetMetadata;

/// What the walker needs to know about a buildpack or extension.
#[derive(Debug, Clone)]
pub(crate) struct Module {
    /// Buildpack API the module implements.
    pub api: ApiVersion,
    /// The API as the descriptor writes it (recorded in group.toml unchanged).
    pub api_raw: String,
    /// The warning for a deprecated API, if any.
    pub api_warning: Option<String>,
    /// The module's root directory.
    pub dir: PathBuf,
    /// Homepage, recorded in group.toml.
    pub homepage: String,
    /// `clear-env`.
    pub clear_env: bool,
    /// Targets after the reference's stack translation and inference.
    pub targets: Vec<Target>,
    /// Execution environments the module declares (honoured for API >= 0.12).
    pub exec_env: Vec<String>,
    /// A composite buildpack's order (empty for component buildpacks and extensions).
    pub order: Order,
}

/// Finds modules by group element (kind, id, version).
pub(crate) trait ModuleStore: Sync {
    /// Looks a module up; errors are fatal to detection.
    fn lookup(&self, el: &GroupElement) -> Result<Module, super::DetectError>;
}

/// Runs one module's detection.
pub(crate) trait DetectRunner: Sync {
    /// Runs `/bin/detect` (or reads an extension's pre-populated plan).
    fn detect(&self, el: &GroupElement, module: &Module) -> DetectRun;
}

/// An entry of a group under expansion: a module reference or the extensions order
/// that precedes every group when the order has extensions.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    /// A buildpack or extension reference, with the composite buildpacks it was
    /// expanded from (outermost first), to catch cycles.
    Element(GroupElement, Vec<String>),
    /// The extensions order, tried as an optional prefix.
    Extensions(Order),
}

/// How the walk ended without a passing group.
#[derive(Debug)]
pub(crate) enum WalkError {
    /// Every group failed; `errored` when some element errored.
    NoGroup { errored: bool },
    /// A lookup or another fatal problem.
    Fatal(super::DetectError),
}

/// The walker's settings and state for one detect run.
pub(crate) struct Walker<'a> {
    /// Module lookup.
    pub store: &'a dyn ModuleStore,
    /// Detect execution.
    pub runner: &'a dyn DetectRunner,
    /// Requested Platform API.
    pub platform_api: ApiVersion,
    /// `CNB_EXEC_ENV`.
    pub exec_env: String,
    /// The run image's target, completed from the build container when needed.
    pub target: TargetMetadata,
    /// Live logger for lines the reference prints directly.
    pub logger: &'a Logger,
    /// Held-back resolver lines.
    pub log: LogBuffer,
    runs: HashMap<String, DetectRun>,
    modules: HashMap<String, Module>,
}

fn key(el: &GroupElement) -> String {
    let kind = if el.extension {
        "extension"
    } else {
        "buildpack"
    };
    format!("{kind} {}", el.display_name())
}

/// Builds the groups of an order with the extensions order as optional prefix.
pub(crate) fn with_extensions(order: Order, extensions: Order) -> Vec<Vec<Entry>> {
    order
        .into_iter()
        .map(|g| {
            let mut entries = Vec::with_capacity(g.group.len() + 1);
            if !extensions.is_empty() {
                entries.push(Entry::Extensions(extensions.clone()));
            }
            entries.extend(g.group.into_iter().map(|el| Entry::Element(el, Vec::new())));
            entries
        })
        .collect()
}

impl<'a> Walker<'a> {
    /// A walker with empty caches.
    pub(crate) fn new(
        store: &'a dyn ModuleStore,
        runner: &'a dyn DetectRunner,
        platform_api: ApiVersion,
        exec_env: String,
        target: TargetMetadata,
        logger: &'a Logger,
    ) -> Self {
        Self {
            store,
            runner,
            platform_api,
            exec_env,
            target,
            logger,
            log: LogBuffer::default(),
            runs: HashMap::new(),
            modules: HashMap::new(),
        }
    }

    /// Tries the groups in order; returns the first that passes.
    pub(crate) fn walk(&mut self, groups: Vec<Vec<Entry>>) -> Result<Resolved, WalkError> {
        self.detect_order(groups, &[], &[], false)
    }

    fn detect_order(
        &mut self,
        groups: Vec<Vec<Entry>>,
        done: &[GroupElement],
        next: &[Entry],
        optional: bool,
    ) -> Result<Resolved, WalkError> {
        let mut errored = false;
        for mut group in groups {
            group.extend_from_slice(next);
            match self.detect_group(&group, done.to_vec()) {
                Err(WalkError::NoGroup { errored: e }) => errored |= e,
                other => return other,
            }
        }
        if optional {
            return self.detect_group(next, done.to_vec());
        }
        Err(WalkError::NoGroup { errored })
    }

    fn detect_group(
        &mut self,
        group: &[Entry],
        mut done: Vec<GroupElement>,
    ) -> Result<Resolved, WalkError> {
        for (i, entry) in group.iter().enumerate() {
            let (el, parents) = match entry {
                Entry::Extensions(order) => {
                    let groups = order.iter().map(extension_entries).collect::<Vec<_>>();
                    return self.detect_order(groups, &done, &group[i + 1..], true);
                }
                Entry::Element(el, parents) => (el, parents),
            };
            if done
                .iter()
                .any(|d| d.extension == el.extension && d.id == el.id)
            {
                continue;
            }
            let module = self.store.lookup(el).map_err(WalkError::Fatal)?;
            if !module.order.is_empty() {
                let mut inner = parents.clone();
                inner.push(el.display_name());
                if parents.contains(&el.display_name()) {
                    return Err(WalkError::Fatal(super::DetectError::Other(format!(
                        "composite buildpack order has a cycle: {}",
                        inner.join(" -> ")
                    ))));
                }
                let groups = module
                    .order
                    .iter()
                    .map(|g| {
                        g.group
                            .iter()
                            .map(|c| Entry::Element(c.clone(), inner.clone()))
                            .collect()
                    })
                    .collect();
                return self.detect_order(groups, &done, &group[i + 1..], el.optional);
            }
            let marked = GroupElement {
                api: module.api_raw.clone(),
                homepage: module.homepage.clone(),
                ..el.clone()
            };
            if self.platform_api.at_least(0, 12) && !self.target_matches(&module) && !el.optional {
                self.runs.insert(
                    key(el),
                    DetectRun {
                        code: CODE_LIFECYCLE_ERROR,
                        err: Some(format!(
                            "unable to satisfy target os/arch constraints; run image: {}, buildpack: {}",
                            self.target,
                            describe_targets(&module.targets)
                        )),
                        ..DetectRun::default()
                    },
                );
                done.push(marked);
                continue;
            }
            if self.platform_api.at_least(0, 15) && !self.exec_env_matches(el, &module) {
                continue;
            }
            self.modules.insert(key(el), module);
            done.push(marked);
        }
        self.run_pending(&done);
        let runs = done
            .iter()
            .map(|el| {
                self.runs.get(&key(el)).ok_or_else(|| {
                    WalkError::Fatal(super::DetectError::Other(format!(
                        "missing detection of '{}'",
                        key(el)
                    )))
                })
            })
            .collect::<Result<Vec<&DetectRun>, _>>()?;
        resolve::resolve(&done, &runs, &mut self.log).map_err(|f| WalkError::NoGroup {
            errored: f == GroupFailure::BuildpackError,
        })
    }

    fn target_matches(&self, module: &Module) -> bool {
        if module.targets.is_empty() {
            return true;
        }
        module.targets.iter().any(|t| {
            self.logger.debug(format!(
                "Checking for match against descriptor: {}",
                describe_target(t)
            ));
            t.matches(&self.target.query())
        })
    }

    fn exec_env_matches(&self, el: &GroupElement, module: &Module) -> bool {
        let list = &module.exec_env;
        let ok = self.exec_env.is_empty() || exec_env_allows(module.api, list, &self.exec_env);
        if !ok {
            self.logger.debug(format!(
                "Skipping {} due to execution environment mismatch; current: {}, buildpack supports: [{}]",
                el.display_name(),
                self.exec_env,
                list.join(" ")
            ));
        }
        ok
    }

    /// Detects, concurrently, every element of `done` not detected yet.
    fn run_pending(&mut self, done: &[GroupElement]) {
        let mut keys = Vec::new();
        let mut work = Vec::new();
        for el in done {
            let k = key(el);
            if self.runs.contains_key(&k) || keys.contains(&k) {
                continue;
            }
            if let Some(module) = self.modules.get(&k) {
                work.push((el, module));
                keys.push(k);
            }
        }
        let runner = self.runner;
        let results: Vec<DetectRun> = std::thread::scope(|s| {
            let handles: Vec<_> = work
                .into_iter()
                .map(|(el, module)| s.spawn(move || runner.detect(el, module)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| DetectRun {
                        code: CODE_LIFECYCLE_ERROR,
                        err: Some("internal error: detect worker panicked".into()),
                        ..DetectRun::default()
                    })
                })
                .collect()
        });
        self.runs.extend(keys.into_iter().zip(results));
    }
}

fn extension_entries(group: &Group) -> Vec<Entry> {
    group
        .group
        .iter()
        .map(|el| {
            Entry::Element(
                GroupElement {
                    extension: true,
                    optional: true,
                    ..el.clone()
                },
                Vec::new(),
            )
        })
        .collect()
}

fn describe_target(t: &Target) -> String {
    serde_json::to_string(t).unwrap_or_default()
}

fn describe_targets(ts: &[Target]) -> String {
    serde_json::to_string(ts).unwrap_or_default()
}
