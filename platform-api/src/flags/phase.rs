//! The lifecycle phases that take a command line, with the names they are invoked by.

use std::fmt;

/// A phase of the multicall `lifecycle` binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// `analyzer` / `lifecycle analyze`.
    Analyze,
    /// `detector` / `lifecycle detect`.
    Detect,
    /// `restorer` / `lifecycle restore`.
    Restore,
    /// `extender` / `lifecycle extend`.
    Extend,
    /// `builder` / `lifecycle build`.
    Build,
    /// `exporter` / `lifecycle export`.
    Export,
    /// `creator` / `lifecycle create`.
    Create,
    /// `rebaser` / `lifecycle rebase`.
    Rebase,
}

impl Phase {
    /// Every phase, in the order the reference lists subcommands.
    pub const ALL: [Phase; 8] = [
        Phase::Detect,
        Phase::Analyze,
        Phase::Restore,
        Phase::Build,
        Phase::Export,
        Phase::Rebase,
        Phase::Create,
        Phase::Extend,
    ];

    /// The executable name (`detector`, …), as the phase symlinks are called.
    pub fn binary_name(self) -> &'static str {
        match self {
            Self::Analyze => "analyzer",
            Self::Detect => "detector",
            Self::Restore => "restorer",
            Self::Extend => "extender",
            Self::Build => "builder",
            Self::Export => "exporter",
            Self::Create => "creator",
            Self::Rebase => "rebaser",
        }
    }

    /// The subcommand name (`detect`, …), as in `lifecycle detect`.
    pub fn subcommand(self) -> &'static str {
        match self {
            Self::Analyze => "analyze",
            Self::Detect => "detect",
            Self::Restore => "restore",
            Self::Extend => "extend",
            Self::Build => "build",
            Self::Export => "export",
            Self::Create => "create",
            Self::Rebase => "rebase",
        }
    }

    /// The phase whose executable is called `name`.
    pub fn from_binary_name(name: &str) -> Option<Phase> {
        Self::ALL.into_iter().find(|p| p.binary_name() == name)
    }

    /// The phase whose subcommand is `name`.
    pub fn from_subcommand(name: &str) -> Option<Phase> {
        Self::ALL.into_iter().find(|p| p.subcommand() == name)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.subcommand())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Phase::ALL {
            assert_eq!(Phase::from_binary_name(p.binary_name()), Some(p));
            assert_eq!(Phase::from_subcommand(p.subcommand()), Some(p));
        }
        assert_eq!(Phase::from_binary_name("detect"), None);
        assert_eq!(Phase::from_subcommand("detector"), None);
        let list: Vec<_> = Phase::ALL.iter().map(|p| p.subcommand()).collect();
        assert_eq!(
            list.join(", "),
            "detect, analyze, restore, build, export, rebase, create, extend"
        );
    }
}
