use std::fs;
use std::os::unix::ffi::OsStringExt;

use proptest::prelude::*;

use super::*;

fn write(dir: &Path, name: &str, contents: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(name), contents).unwrap();
}

fn build_env(vars: &[(&str, &str)]) -> Env {
    Env::for_build(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn val(env: &Env, name: &str) -> Option<String> {
    env.get(name).map(|v| v.to_str().unwrap().to_string())
}

#[test]
fn build_allow_list() {
    let env = build_env(&[
        ("HOME", "/home/cnb"),
        ("PATH", "/usr/bin"),
        ("LIBRARY_PATH", "/lib"),
        ("https_proxy", "http://proxy"),
        ("CNB_STACK_ID", "io.buildpacks.stacks.jammy"),
        ("CNB_PLATFORM_API", "0.12"),
        ("CNB_LAYERS_DIR", "/layers"),
        ("BP_NODE_VERSION", "20"),
        ("RANDOM", "x"),
    ]);
    let names: Vec<_> = env
        .iter()
        .map(|(k, _)| k.to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "CNB_STACK_ID",
            "HOME",
            "LIBRARY_PATH",
            "PATH",
            "https_proxy"
        ]
    );
    assert_eq!(env.kind(), EnvKind::Build);
}

#[test]
fn launch_exclude_list_and_path_stripping() {
    let env = Env::for_launch([
        (
            "PATH",
            "/cnb/process:/cnb/lifecycle:/usr/bin:/cnb/process:/bin",
        ),
        ("CNB_PLATFORM_API", "0.12"),
        ("CNB_APP_DIR", "/workspace"),
        ("CNB_PROCESS_TYPE", "web"),
        ("CNB_LAYERS_DIR", "/layers"),
        ("CNB_DEPRECATION_MODE", "quiet"),
        ("CNB_EXEC_ENV", "production"),
        ("PORT", "8080"),
    ]);
    assert_eq!(val(&env, "PATH").as_deref(), Some("/usr/bin:/bin"));
    assert_eq!(val(&env, "PORT").as_deref(), Some("8080"));
    assert_eq!(val(&env, "CNB_EXEC_ENV").as_deref(), Some("production"));
    assert_eq!(env.get("CNB_PLATFORM_API"), None);
    assert_eq!(env.to_vec().len(), 3);
    let only_process = Env::for_launch([("PATH", "/cnb/process")]);
    assert_eq!(val(&only_process, "PATH").as_deref(), Some(""));
}

#[test]
fn root_dirs_build_and_launch() {
    let layers = tempfile::tempdir().unwrap();
    let a = layers.path().join("a");
    let b = layers.path().join("b");
    for sub in ["bin", "lib", "include", "pkgconfig"] {
        fs::create_dir_all(a.join(sub)).unwrap();
    }
    fs::create_dir_all(b.join("bin")).unwrap();

    let mut env = build_env(&[("PATH", "/usr/bin")]);
    env.add_root_dir(&a).unwrap();
    env.add_root_dir(&b).unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    assert_eq!(val(&env, "PATH"), Some(format!("{b}/bin:{a}/bin:/usr/bin")));
    assert_eq!(val(&env, "LD_LIBRARY_PATH"), Some(format!("{a}/lib")));
    assert_eq!(val(&env, "LIBRARY_PATH"), Some(format!("{a}/lib")));
    assert_eq!(val(&env, "CPATH"), Some(format!("{a}/include")));
    assert_eq!(val(&env, "PKG_CONFIG_PATH"), Some(format!("{a}/pkgconfig")));

    let mut launch = Env::for_launch([("PATH", "/usr/bin")]);
    launch.add_root_dir(Path::new(a)).unwrap();
    assert_eq!(val(&launch, "LD_LIBRARY_PATH"), Some(format!("{a}/lib")));
    assert_eq!(launch.get("LIBRARY_PATH"), None);
    assert_eq!(launch.get("CPATH"), None);

    // A missing layer directory changes nothing.
    let mut env = build_env(&[]);
    env.add_root_dir(&layers.path().join("missing")).unwrap();
    assert_eq!(env.to_vec(), vec![]);
}

#[test]
fn env_dir_suffix_rules() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("env");
    write(&dir, "OVERRIDDEN", "new");
    write(&dir, "EXPLICIT.override", "explicit");
    write(&dir, "DEFAULTED.default", "dflt");
    write(&dir, "KEPT.default", "ignored");
    write(&dir, "JAVA_OPTS.append", "-Xmx1g");
    write(&dir, "JAVA_OPTS.delim", " ");
    write(&dir, "NODELIM.append", "b");
    write(&dir, "PRE.prepend", "/opt/bin");
    write(&dir, "PRE.delim", ":");
    write(&dir, "PREPATH.", "/x");
    write(&dir, "UNKNOWN.suffix", "nope");
    write(&dir, "DOTTED.prepend.more", "nope");
    write(&dir, "RAW", "  spaced\n");
    write(&dir, ".override", "no-name");
    fs::create_dir_all(dir.join("SUBDIR")).unwrap();
    fs::create_dir_all(root.path().join("target-dir")).unwrap();
    std::os::unix::fs::symlink(root.path().join("target-dir"), dir.join("LINKDIR")).unwrap();
    write(root.path(), "target-file", "linked");
    std::os::unix::fs::symlink(root.path().join("target-file"), dir.join("LINKFILE")).unwrap();

    let mut env = Env::for_launch([
        ("OVERRIDDEN", "old"),
        ("KEPT", "mine"),
        ("JAVA_OPTS", "-Xss1m"),
        ("NODELIM", "a"),
        ("PRE", "/usr/bin"),
        ("PREPATH", "/y"),
    ]);
    env.add_env_dir(&dir, Action::Override).unwrap();
    let expect = [
        ("DEFAULTED", "dflt"),
        ("EXPLICIT", "explicit"),
        ("JAVA_OPTS", "-Xss1m -Xmx1g"),
        ("KEPT", "mine"),
        ("LINKFILE", "linked"),
        ("NODELIM", "ab"),
        ("OVERRIDDEN", "new"),
        ("PRE", "/opt/bin:/usr/bin"),
        ("PREPATH", "/x:/y"),
        ("RAW", "  spaced\n"),
    ];
    let got: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_str().unwrap().into(), v.to_str().unwrap().into()))
        .collect();
    let want: Vec<(String, String)> = expect
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn env_dir_default_action_and_errors() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("env");
    write(&dir, "A", "file");
    let mut env = build_env(&[("HOME", "/h")]);
    env.add_env_dir(&dir, Action::Default).unwrap();
    assert_eq!(val(&env, "A").as_deref(), Some("file"));

    // Missing directory: nothing happens.
    env.add_env_dir(&root.path().join("nope"), Action::Override)
        .unwrap();
    // A dangling symlink is an error, as in the reference.
    std::os::unix::fs::symlink(root.path().join("gone"), dir.join("DANGLING")).unwrap();
    let err = env.add_env_dir(&dir, Action::Override).unwrap_err();
    assert!(
        err.to_string().starts_with("apply env files from dir '"),
        "{err}"
    );
    // `env` being a file is an error too.
    write(root.path(), "file-env", "x");
    assert!(
        env.add_env_dir(&root.path().join("file-env"), Action::Override)
            .is_err()
    );
}

#[test]
fn non_utf8_values_are_kept() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("env");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("LATIN1"), [b'c', 0xe9]).unwrap();
    let mut env = build_env(&[]);
    env.add_env_dir(&dir, Action::Override).unwrap();
    assert_eq!(
        env.get("LATIN1").unwrap().to_os_string().into_vec(),
        vec![b'c', 0xe9]
    );
}

#[test]
fn platform_and_build_config() {
    let root = tempfile::tempdir().unwrap();
    let platform = root.path().join("platform");
    let build_config = root.path().join("build-config");
    write(&platform.join("env"), "PATH", "/user/bin");
    write(&platform.join("env"), "BP_NODE_VERSION", "20.*");
    write(&platform.join("env"), "HOME", "/user-home");
    write(&platform.join("env"), "WEIRD.append", "kept-as-is");
    write(&build_config.join("env"), "BP_NODE_VERSION", "18.*");
    write(&build_config.join("env"), "BP_OPERATOR", "op");
    write(&build_config.join("env"), "HOME.override", "/operator-home");
    write(&build_config.join("env"), "PATH.append", "/op/bin");
    write(&build_config.join("env"), "PATH.delim", ":");

    let base = build_env(&[("PATH", "/usr/bin"), ("HOME", "/home/cnb")]);
    let full = base
        .with_platform_and_build_config(Some(&platform), Some(&build_config))
        .unwrap();
    assert_eq!(
        val(&full, "PATH").as_deref(),
        Some("/user/bin:/usr/bin:/op/bin")
    );
    // The user's value wins over the operator's unsuffixed (default) file.
    assert_eq!(val(&full, "BP_NODE_VERSION").as_deref(), Some("20.*"));
    assert_eq!(val(&full, "BP_OPERATOR").as_deref(), Some("op"));
    assert_eq!(val(&full, "HOME").as_deref(), Some("/operator-home"));
    assert_eq!(val(&full, "WEIRD.append").as_deref(), Some("kept-as-is"));
    // The base is untouched.
    assert_eq!(val(&base, "PATH").as_deref(), Some("/usr/bin"));

    // clear-env: no user files, operator files still applied.
    let cleared = base
        .with_platform_and_build_config(None, Some(&build_config))
        .unwrap();
    assert_eq!(val(&cleared, "BP_NODE_VERSION").as_deref(), Some("18.*"));
    assert_eq!(val(&cleared, "PATH").as_deref(), Some("/usr/bin:/op/bin"));

    // Missing directories are fine.
    let none = base
        .with_platform_and_build_config(Some(&root.path().join("x")), Some(&root.path().join("y")))
        .unwrap();
    assert_eq!(none, base);
}

/// Printable text with the whitespace that must survive untrimmed.
fn contents() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/ :;\\n\\t._-]{0,12}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Two layers appending to one variable: a `.delim` only applies inside its own
    /// layer, no delimiter is inserted without one, none before an empty value.
    #[test]
    fn appends_compose_per_layer(
        existing in contents(),
        first in contents(),
        second in contents(),
        delim in proptest::option::of(contents()),
    ) {
        let root = tempfile::tempdir().unwrap();
        let l1 = root.path().join("l1/env");
        let l2 = root.path().join("l2/env");
        write(&l1, "V.append", &first);
        if let Some(d) = &delim {
            write(&l1, "V.delim", d);
        }
        write(&l2, "V.append", &second);
        let mut env = Env::for_launch([("V", existing.clone())]);
        env.add_env_dir(&l1, Action::Override).unwrap();
        env.add_env_dir(&l2, Action::Override).unwrap();
        let d = delim.unwrap_or_default();
        let after_first = if existing.is_empty() { first } else { format!("{existing}{d}{first}") };
        let expected = format!("{after_first}{second}");
        prop_assert_eq!(val(&env, "V"), Some(expected));
    }

    /// Prepends accumulate backwards: the later layer ends up first.
    #[test]
    fn prepends_compose_backwards(
        existing in contents(),
        first in contents(),
        second in contents(),
        delim in contents(),
    ) {
        let root = tempfile::tempdir().unwrap();
        let l1 = root.path().join("l1/env");
        let l2 = root.path().join("l2/env");
        write(&l1, "V.prepend", &first);
        write(&l2, "V.prepend", &second);
        write(&l2, "V.delim", &delim);
        let mut env = Env::for_launch([("V", existing.clone())]);
        env.add_env_dir(&l1, Action::Override).unwrap();
        env.add_env_dir(&l2, Action::Override).unwrap();
        let after_first = format!("{first}{existing}");
        let expected = if after_first.is_empty() {
            second
        } else {
            format!("{second}{delim}{after_first}")
        };
        prop_assert_eq!(val(&env, "V"), Some(expected));
    }

    /// Earlier defaults win, later overrides win, whatever the values.
    #[test]
    fn default_then_override(
        existing in proptest::option::of(contents()),
        a in contents(),
        b in contents(),
        c in contents(),
    ) {
        let root = tempfile::tempdir().unwrap();
        let l1 = root.path().join("l1/env");
        let l2 = root.path().join("l2/env");
        write(&l1, "V.default", &a);
        write(&l2, "V.default", &b);
        let mut env = Env::for_launch(existing.iter().map(|e| ("V", e.clone())));
        env.add_env_dir(&l1, Action::Override).unwrap();
        env.add_env_dir(&l2, Action::Override).unwrap();
        let after_defaults = match existing.as_deref() {
            Some(e) if !e.is_empty() => e.to_string(),
            _ if !a.is_empty() => a.clone(),
            _ => b.clone(),
        };
        prop_assert_eq!(val(&env, "V"), Some(after_defaults));
        // `V` sorts before `V.default`: the override applies first, then the default
        // refills the variable only if the override emptied it.
        write(&l2, "V", &c);
        env.add_env_dir(&l2, Action::Override).unwrap();
        let expected = if c.is_empty() { b } else { c };
        prop_assert_eq!(val(&env, "V"), Some(expected));
    }
}
