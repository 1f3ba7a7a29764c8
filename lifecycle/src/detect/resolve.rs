//! Group verdicts and build-plan resolution over the detect results of one group.
//!
//! A group passes when every non-optional element passed and at least one buildpack did.
//! Each passing element then offers its plan alternatives (top-level sections first, then
//! each `[[or]]`); trials pick one alternative per element, first element varying
//! slowest. Within a trial a require is met by a provide at or before it, and a provide
//! is used by a require at or after it; an optional element that leaves either unmet is
//! dropped and the trial re-evaluated, a required one fails the trial.

use buildpack_api::group::GroupElement;
use buildpack_api::plan::{PlanSection, Require};

use super::logbuf::LogBuffer;
use crate::log::Level;

/// Exit status of `/bin/detect` meaning "pass".
pub(crate) const CODE_PASS: i32 = 0;
/// Exit status of `/bin/detect` meaning "opted out".
pub(crate) const CODE_FAIL: i32 = 100;
/// Marker for failures found by the lifecycle itself (bad plan, target mismatch, spawn error).
pub(crate) const CODE_LIFECYCLE_ERROR: i32 = -1;

/// The outcome of running one element's detection.
#[derive(Debug, Clone, Default)]
pub(crate) struct DetectRun {
    /// Exit code of `/bin/detect`, or [`CODE_LIFECYCLE_ERROR`].
    pub code: i32,
    /// Captured stdout and stderr.
    pub output: Vec<u8>,
    /// A lifecycle-side error message.
    pub err: Option<String>,
    /// Plan alternatives: the top-level sections first, then each `[[or]]`.
    pub options: Vec<PlanSection>,
}

/// One resolved plan entry: the providers of a name and every require of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ResolvedEntry {
    /// Providers (id, version, extension flag).
    pub providers: Vec<GroupElement>,
    /// Requires of the name, in order.
    pub requires: Vec<Require>,
}

/// Why a group did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupFailure {
    /// Nothing errored: buildpacks opted out or the plan did not resolve.
    FailedDetection,
    /// At least one element errored.
    BuildpackError,
}

/// A passing group: the participating elements and the plan.
pub(crate) type Resolved = (Vec<GroupElement>, Vec<ResolvedEntry>);

/// Prints the detect output blocks and results of `done` and resolves the group's plan.
/// `runs[i]` is the detect outcome of `done[i]`.
pub(crate) fn resolve(
    done: &[GroupElement],
    runs: &[&DetectRun],
    log: &mut LogBuffer,
) -> Result<Resolved, GroupFailure> {
    for (el, run) in done.iter().zip(runs) {
        let level = match run.code {
            CODE_PASS | CODE_FAIL => Level::Debug,
            _ => Level::Info,
        };
        if !run.output.is_empty() {
            log.log(
                level,
                format!("======== Output: {} ========", el.display_name()),
            );
            log.log(level, String::from_utf8_lossy(&run.output).into_owned());
        }
        if let Some(err) = &run.err {
            log.log(
                level,
                format!("======== Error: {} ========", el.display_name()),
            );
            log.log(level, err.clone());
        }
    }
    log.debug("======== Results ========");

    let mut detected = true;
    let mut any_buildpack = false;
    let mut buildpack_err = false;
    let mut passed: Vec<(&GroupElement, &DetectRun)> = Vec::new();
    for (el, run) in done.iter().zip(runs) {
        match run.code {
            CODE_PASS => {
                log.debug(format!("pass: {}", el.display_name()));
                passed.push((el, run));
                any_buildpack |= !el.extension;
            }
            CODE_FAIL => {
                let word = if el.optional { "skip" } else { "fail" };
                log.debug(format!("{word}: {}", el.display_name()));
                detected &= el.optional;
            }
            CODE_LIFECYCLE_ERROR => {
                log.info(format!("err:  {}", el.display_name()));
                buildpack_err = true;
                detected &= el.optional;
            }
            code => {
                log.info(format!("err:  {} ({code})", el.display_name()));
                buildpack_err = true;
                detected &= el.optional;
            }
        }
    }
    if !detected {
        return Err(if buildpack_err {
            GroupFailure::BuildpackError
        } else {
            GroupFailure::FailedDetection
        });
    }
    if !any_buildpack {
        log.debug("fail: no viable buildpacks in group");
        return Err(GroupFailure::FailedDetection);
    }

    let candidates: Vec<Vec<Choice>> = passed.iter().map(|(el, run)| options(el, run)).collect();
    let mut attempt = 0;
    let (trial, entries) = first_resolving_trial(&candidates, &mut Vec::new(), &mut |trial| {
        attempt += 1;
        run_trial(attempt, trial, log)
    })?;

    if done.len() != trial.len() {
        log.info(format!(
            "{} of {} buildpacks participating",
            trial.len(),
            done.len()
        ));
    }
    let width = trial.iter().map(|o| o.element.id.len()).max().unwrap_or(0);
    for o in &trial {
        log.info(format!(
            "{:<width$} {}",
            o.element.id,
            o.element.version,
            width = width
        ));
    }
    let group = trial
        .into_iter()
        .map(|o| GroupElement {
            optional: false,
            ..o.element
        })
        .collect();
    Ok((group, entries))
}

/// One element with one of its plan alternatives.
#[derive(Debug, Clone)]
struct Choice {
    element: GroupElement,
    sections: PlanSection,
}

/// The alternatives an element offers; only the last keeps the element's optionality.
fn options(el: &GroupElement, run: &DetectRun) -> Vec<Choice> {
    let alternatives: Vec<PlanSection> = if run.options.is_empty() {
        vec![PlanSection::default()]
    } else {
        run.options.clone()
    };
    let last = alternatives.len() - 1;
    alternatives
        .into_iter()
        .enumerate()
        .map(|(i, sections)| Choice {
            element: GroupElement {
                optional: el.optional && i == last,
                ..el.clone()
            },
            sections,
        })
        .collect()
}

type TrialResult = Result<(Vec<Choice>, Vec<ResolvedEntry>), GroupFailure>;

/// Enumerates trials depth first (first element's alternatives vary slowest) and returns
/// the first that resolves, or the last failure.
fn first_resolving_trial(
    candidates: &[Vec<Choice>],
    prefix: &mut Vec<Choice>,
    try_trial: &mut dyn FnMut(Vec<Choice>) -> TrialResult,
) -> TrialResult {
    let Some((first, rest)) = candidates.split_first() else {
        return try_trial(prefix.clone());
    };
    let mut last_err = GroupFailure::FailedDetection;
    for option in first {
        prefix.push(option.clone());
        let result = first_resolving_trial(rest, prefix, try_trial);
        prefix.pop();
        match result {
            Ok(found) => return Ok(found),
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}

/// Per-name bookkeeping while walking a trial.
#[derive(Debug, Default)]
struct Dep {
    name: String,
    entry: ResolvedEntry,
    early_requires: Vec<GroupElement>,
    extra_provides: Vec<GroupElement>,
}

/// Walks a trial in order, registering each option's provides then its requires.
fn dep_map(trial: &[Choice]) -> Vec<Dep> {
    let mut deps: Vec<Dep> = Vec::new();
    fn slot<'a>(deps: &'a mut Vec<Dep>, name: &str) -> &'a mut Dep {
        let i = match deps.iter().position(|d| d.name == name) {
            Some(i) => i,
            None => {
                deps.push(Dep {
                    name: name.to_string(),
                    ..Dep::default()
                });
                deps.len() - 1
            }
        };
        &mut deps[i]
    }
    for option in trial {
        for p in &option.sections.provides {
            slot(&mut deps, &p.name)
                .extra_provides
                .push(option.element.clone());
        }
        for r in &option.sections.requires {
            let dep = slot(&mut deps, &r.name);
            let extra = std::mem::take(&mut dep.extra_provides);
            dep.entry.providers.extend(extra);
            if dep.entry.providers.is_empty() {
                dep.early_requires.push(option.element.clone());
            } else {
                dep.entry.requires.push(r.clone());
            }
        }
    }
    deps
}

/// Resolves one trial, dropping optional elements with unmet requires or unused provides
/// until it is stable.
fn run_trial(attempt: usize, mut trial: Vec<Choice>, log: &mut LogBuffer) -> TrialResult {
    log.debug(format!("Resolving plan... (try #{attempt})"));
    let deps = loop {
        let deps = dep_map(&trial);
        let mut retry = false;
        let unmet = deps
            .iter()
            .flat_map(|d| d.early_requires.iter().map(move |el| ("requires", d, el)))
            .chain(deps.iter().flat_map(|d| {
                d.extra_provides
                    .iter()
                    .map(move |el| ("provides unused", d, el))
            }));
        for (what, dep, el) in unmet {
            retry = true;
            if !el.optional {
                log.debug(format!("fail: {} {what} {}", el.display_name(), dep.name));
                return Err(GroupFailure::FailedDetection);
            }
            log.debug(format!("skip: {} {what} {}", el.display_name(), dep.name));
            trial.retain(|o| o.element != *el);
        }
        if !retry {
            break deps;
        }
    };
    if trial.is_empty() {
        log.debug("fail: no viable buildpacks in group");
        return Err(GroupFailure::FailedDetection);
    }
    let entries = deps
        .into_iter()
        .map(|d| ResolvedEntry {
            providers: d
                .entry
                .providers
                .into_iter()
                .map(|p| GroupElement {
                    id: p.id,
                    version: p.version,
                    extension: p.extension,
                    ..GroupElement::default()
                })
                .collect(),
            requires: d.entry.requires,
        })
        .collect();
    Ok((trial, entries))
}

#[cfg(test)]
mod tests;
