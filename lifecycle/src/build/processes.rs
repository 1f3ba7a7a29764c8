//! Merging the processes of every buildpack, as the reference does: a later
//! buildpack's process replaces an earlier one of the same type, the last process
//! marked default wins, and redefining the default type without marking it default
//! leaves no default (with a warning).

use std::collections::BTreeMap;

use platform_api::files::metadata::Process;

/// The merged processes and the default type so far.
#[derive(Debug, Default)]
pub(crate) struct ProcessMap {
    by_type: BTreeMap<String, Process>,
    default_type: String,
}

impl ProcessMap {
    /// Adds one buildpack's processes in order. Returns the warning to print, if any
    /// (only the last one of the buildpack, as the reference keeps it).
    pub(crate) fn add(&mut self, processes: Vec<Process>) -> Option<String> {
        let mut warning = None;
        for process in processes {
            if process.default {
                self.default_type = process.process_type.clone();
                warning = None;
            } else if process.process_type == self.default_type {
                self.default_type.clear();
                warning = Some(format!(
                    "Warning: redefining the following default process type with a process not marked as default: {}\n",
                    process.process_type
                ));
            }
            self.by_type.insert(process.process_type.clone(), process);
        }
        warning
    }

    /// The processes sorted by type (none marked default) and the default type (empty
    /// when there is none).
    pub(crate) fn into_parts(self) -> (Vec<Process>, String) {
        let processes = self
            .by_type
            .into_values()
            .map(|p| Process {
                default: false,
                ..p
            })
            .collect();
        (processes, self.default_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str, bp: &str, default: bool) -> Process {
        Process {
            process_type: t.into(),
            command: vec![format!("{bp}-{t}")],
            default,
            buildpack_id: bp.into(),
            ..Process::default()
        }
    }

    #[test]
    fn later_buildpack_wins_and_list_is_sorted() {
        let mut m = ProcessMap::default();
        assert_eq!(
            m.add(vec![p("web", "a", true), p("worker", "a", false)]),
            None
        );
        assert_eq!(
            m.add(vec![p("worker", "b", false), p("cli", "b", false)]),
            None
        );
        let (list, default) = m.into_parts();
        let types: Vec<_> = list.iter().map(|p| p.process_type.as_str()).collect();
        assert_eq!(types, ["cli", "web", "worker"]);
        assert_eq!(list[2].buildpack_id, "b");
        assert!(list.iter().all(|p| !p.default));
        assert_eq!(default, "web");
    }

    #[test]
    fn last_default_wins() {
        let mut m = ProcessMap::default();
        m.add(vec![p("web", "a", true)]);
        m.add(vec![p("api", "b", true)]);
        assert_eq!(m.into_parts().1, "api");
    }

    #[test]
    fn non_default_redefinition_clears_the_default() {
        let mut m = ProcessMap::default();
        m.add(vec![p("web", "a", true)]);
        let warning = m.add(vec![p("web", "b", false)]).unwrap();
        assert_eq!(
            warning,
            "Warning: redefining the following default process type with a process not marked as default: web\n"
        );
        let (list, default) = m.into_parts();
        assert_eq!(default, "");
        assert_eq!(list[0].buildpack_id, "b");

        // A default set later in the same buildpack clears the warning.
        let mut m = ProcessMap::default();
        m.add(vec![p("web", "a", true)]);
        assert_eq!(m.add(vec![p("web", "b", false), p("api", "b", true)]), None);
        assert_eq!(m.into_parts().1, "api");
    }
}
