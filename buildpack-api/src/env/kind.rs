//! Build versus launch environments: which variables survive from the parent process
//! and which layer subdirectories feed which path variables.

/// Variables passed from the lifecycle's environment to buildpacks (besides the layer
/// path variables), as in the reference.
pub const BUILD_ENV_INCLUDE_LIST: [&str; 9] = [
    "CNB_STACK_ID",
    "HOSTNAME",
    "HOME",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// Variables the launcher removes from the container environment.
pub const LAUNCH_ENV_EXCLUDE_LIST: [&str; 5] = [
    "CNB_LAYERS_DIR",
    "CNB_APP_DIR",
    "CNB_PROCESS_TYPE",
    "CNB_PLATFORM_API",
    "CNB_DEPRECATION_MODE",
];

/// Directory of the process-type symlinks, stripped from the launch `PATH`.
pub const PROCESS_DIR: &str = "/cnb/process";
/// Directory of the lifecycle binaries, stripped from the launch `PATH`.
pub const LIFECYCLE_DIR: &str = "/cnb/lifecycle";

/// Layer subdirectories and the variables they are prepended to, at build time.
pub const BUILD_ROOT_DIRS: &[(&str, &[&str])] = &[
    ("bin", &["PATH"]),
    ("lib", &["LD_LIBRARY_PATH", "LIBRARY_PATH"]),
    ("include", &["CPATH"]),
    ("pkgconfig", &["PKG_CONFIG_PATH"]),
];

/// Layer subdirectories and the variables they are prepended to, at launch.
pub const LAUNCH_ROOT_DIRS: &[(&str, &[&str])] =
    &[("bin", &["PATH"]), ("lib", &["LD_LIBRARY_PATH"])];

/// Which phase an environment is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnvKind {
    /// Detect, build and generate.
    Build,
    /// The launcher.
    Launch,
}

impl EnvKind {
    /// Layer subdirectories and the path variables each feeds.
    pub fn root_dirs(self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            EnvKind::Build => BUILD_ROOT_DIRS,
            EnvKind::Launch => LAUNCH_ROOT_DIRS,
        }
    }

    /// Whether `name` is one of this kind's layer path variables.
    pub fn is_path_var(self, name: &str) -> bool {
        self.root_dirs()
            .iter()
            .any(|(_, vars)| vars.contains(&name))
    }
}
