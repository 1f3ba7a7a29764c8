use super::*;

fn bp(id: &str, api: &str) -> VerifiedBuildpack {
    VerifiedBuildpack {
        id: id.into(),
        api: api.parse().unwrap(),
    }
}

fn process(process_type: &str, command: &[&str], args: &[&str], bp: &str) -> MetadataProcess {
    MetadataProcess {
        process_type: process_type.into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        args: args.iter().map(|s| s.to_string()).collect(),
        buildpack_id: bp.into(),
        ..Default::default()
    }
}

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

/// The processes of `metadata.toml` and its buildpacks with verified APIs.
struct Metadata {
    processes: Vec<MetadataProcess>,
    buildpacks: Vec<VerifiedBuildpack>,
}

impl Metadata {
    fn selector<'a>(&'a self, platform_api: &str, exec_env: &'a str) -> ProcessSelector<'a> {
        ProcessSelector::new(
            &self.processes,
            &self.buildpacks,
            platform_api.parse().unwrap(),
            exec_env,
        )
    }
}

/// The reference's process-selection fixture: an old (0.8) and a new (0.9) buildpack,
/// processes with and without always-passed command arguments.
fn metadata() -> Metadata {
    Metadata {
        buildpacks: vec![
            bp("some-buildpack", "0.8"),
            bp("some-newer-buildpack", "0.9"),
        ],
        processes: vec![
            process(
                "some-type",
                &["some-command"],
                &["some-arg1", "some-arg2"],
                "some-buildpack",
            ),
            process(
                "type-with-always-and-overridable-args",
                &["some-command", "always-arg"],
                &["overridable-arg"],
                "some-newer-buildpack",
            ),
            process(
                "type-with-overridable-arg",
                &["some-command"],
                &["overridable-arg"],
                "some-newer-buildpack",
            ),
            process("orphan", &["cmd"], &["a"], "missing-buildpack"),
        ],
    }
}

fn select(
    md: &Metadata,
    platform: &str,
    default_type: Option<&str>,
    args: &[&str],
) -> Result<LaunchProcess, ProcessError> {
    md.selector(platform, "production")
        .process_for(default_type, &os(args))
}

fn command_and_args(p: &LaunchProcess) -> (Vec<OsString>, Vec<OsString>) {
    (p.command.clone(), p.args.clone())
}

#[test]
fn user_commands_without_a_default_process() {
    let md = metadata();
    let p = select(&md, "0.15", None, &["--", "user-command", "a1", "a2"]).unwrap();
    assert_eq!(
        p,
        LaunchProcess {
            command: os(&["user-command"]),
            args: os(&["a1", "a2"]),
            direct: true,
            ..Default::default()
        }
    );
    let p = select(&md, "0.9", None, &["user-command", "a1"]).unwrap();
    assert_eq!(command_and_args(&p), (os(&["user-command"]), os(&["a1"])));
    assert!(!p.direct);
    // A lone `--` is a shell command, as in the reference.
    let p = select(&md, "0.15", None, &["--"]).unwrap();
    assert_eq!(command_and_args(&p), (os(&["--"]), vec![]));
    assert!(!p.direct);
    assert_eq!(
        select(&md, "0.15", None, &[]).unwrap_err().to_string(),
        "when there is no default process a command is required"
    );
}

#[test]
fn always_passed_command_entries_come_before_user_or_default_args() {
    let md = metadata();
    let t = Some("type-with-always-and-overridable-args");
    let p = select(&md, "0.15", t, &["u1", "u2"]).unwrap();
    assert_eq!(
        command_and_args(&p),
        (os(&["some-command"]), os(&["always-arg", "u1", "u2"]))
    );
    assert_eq!(p.buildpack_id, "some-newer-buildpack");
    let p = select(&md, "0.10", t, &[]).unwrap();
    assert_eq!(
        command_and_args(&p),
        (
            os(&["some-command"]),
            os(&["always-arg", "overridable-arg"])
        )
    );
}

#[test]
fn user_args_replace_for_new_buildpacks_and_append_for_old_ones() {
    let md = metadata();
    let p = select(
        &md,
        "0.15",
        Some("type-with-overridable-arg"),
        &["u1", "u1"],
    )
    .unwrap();
    assert_eq!(p.args, os(&["u1", "u1"]));
    let p = select(&md, "0.15", Some("type-with-overridable-arg"), &[]).unwrap();
    assert_eq!(p.args, os(&["overridable-arg"]));
    let p = select(&md, "0.15", Some("some-type"), &["u1"]).unwrap();
    assert_eq!(p.args, os(&["some-arg1", "some-arg2", "u1"]));
}

#[test]
fn old_platforms_always_append_and_keep_commands_whole() {
    let md = metadata();
    let p = select(&md, "0.9", Some("type-with-overridable-arg"), &["u1"]).unwrap();
    assert_eq!(p.args, os(&["overridable-arg", "u1"]));
    let p = select(
        &md,
        "0.9",
        Some("type-with-always-and-overridable-args"),
        &["u1"],
    )
    .unwrap();
    assert_eq!(
        command_and_args(&p),
        (
            os(&["some-command", "always-arg"]),
            os(&["overridable-arg", "u1"])
        )
    );
    // The buildpack is not consulted below 0.10.
    let p = select(&md, "0.7", Some("orphan"), &["u"]).unwrap();
    assert_eq!(p.args, os(&["a", "u"]));
}

#[test]
fn missing_types_and_buildpacks_are_errors() {
    let md = metadata();
    assert_eq!(
        select(&md, "0.15", Some("missing-type"), &[])
            .unwrap_err()
            .to_string(),
        "process type missing-type was not found"
    );
    assert_eq!(
        select(&md, "0.15", Some("orphan"), &["u"])
            .unwrap_err()
            .to_string(),
        "failed to find buildpack for process orphan with buildpack ID missing-buildpack"
    );
    // Without user arguments the buildpack is not needed.
    assert!(select(&md, "0.15", Some("orphan"), &[]).is_ok());
}

#[test]
fn default_type_comes_from_the_file_name_of_argv0() {
    let md = metadata();
    let s = md.selector("0.15", "production");
    assert_eq!(
        s.default_process_type(OsStr::new("/cnb/process/some-type")),
        Some("some-type")
    );
    assert_eq!(
        s.default_process_type(OsStr::new("some-type")),
        Some("some-type")
    );
    assert_eq!(
        s.default_process_type(OsStr::new("/cnb/lifecycle/launcher")),
        None
    );
    // No `.exe` trimming on Linux, as in the reference.
    assert_eq!(s.default_process_type(OsStr::new("some-type.exe")), None);
    assert_eq!(s.default_process_type(OsStr::new("/cnb/process/")), None);
    assert_eq!(s.default_process_type(OsStr::new("/cnb/some-type/")), None);
}

#[test]
fn exec_env_filtering_from_platform_0_15() {
    let mut md = metadata();
    let mut only = |t: &str, envs: &[&str]| {
        let mut p = process(t, &["c"], &[], "some-buildpack");
        p.exec_env = envs.iter().map(|s| s.to_string()).collect();
        md.processes.push(p);
    };
    only("prod-only", &["production"]);
    only("test-only", &["test"]);
    only("multi", &["production", "test"]);
    only("wildcard", &["*"]);
    let pick = |api: &str, env: &str, t: &str| {
        md.selector(api, env)
            .process_for(Some(t), &[])
            .map(|p| p.process_type)
    };
    assert_eq!(pick("0.15", "test", "test-only").unwrap(), "test-only");
    assert_eq!(pick("0.15", "test", "multi").unwrap(), "multi");
    assert_eq!(pick("0.15", "test", "wildcard").unwrap(), "wildcard");
    assert_eq!(pick("0.15", "test", "some-type").unwrap(), "some-type");
    assert_eq!(
        pick("0.15", "test", "prod-only").unwrap_err(),
        ProcessError::NotFound("prod-only".into())
    );
    assert_eq!(pick("0.14", "test", "prod-only").unwrap(), "prod-only");
    // The first eligible process of the type wins.
    let mut p = process("dup", &["first"], &[], "some-buildpack");
    p.exec_env = vec!["test".into()];
    md.processes.push(p);
    md.processes
        .push(process("dup", &["second"], &[], "some-buildpack"));
    let s = md.selector("0.15", "production");
    assert_eq!(
        s.process_for(Some("dup"), &[]).unwrap().command,
        os(&["second"])
    );
    // The default type ignores execution environments (the error comes later).
    assert_eq!(
        s.default_process_type(OsStr::new("test-only")),
        Some("test-only")
    );
}

#[test]
fn script_or_tokens() {
    let md = metadata();
    let s = md.selector("0.15", "production");
    let mut p = LaunchProcess {
        process_type: "t".into(),
        command: os(&["echo"]),
        ..Default::default()
    };
    assert_eq!(s.is_script(&p), Ok(true));
    p.args = os(&["a"]);
    assert_eq!(s.is_script(&p), Ok(false));
    p.buildpack_id = "some-buildpack".into();
    assert_eq!(s.is_script(&p), Ok(false));
    p.buildpack_id = "nope".into();
    assert_eq!(
        s.is_script(&p).unwrap_err().to_string(),
        "process type 't' provided by unknown buildpack 'nope'"
    );
}

#[test]
fn api_versions_parse_like_the_reference() {
    for (s, want) in [
        ("0.9", (0, 9)),
        ("v0.10", (0, 10)),
        ("1", (1, 0)),
        ("0.", (0, 0)),
    ] {
        assert_eq!(
            s.parse::<ApiVersion>(),
            Ok(ApiVersion::new(want.0, want.1)),
            "{s}"
        );
    }
    for bad in [
        "",
        "v",
        ".1",
        "0.1.2",
        "a.b",
        " 0.1",
        "0.x",
        "99999999999999999999",
    ] {
        assert!(bad.parse::<ApiVersion>().is_err(), "{bad}");
    }
}

#[test]
fn metadata_is_read_with_commands_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = metadata_path(dir.path());
    assert!(path.ends_with("config/metadata.toml"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        "[[buildpacks]]\nid = \"bp\"\napi = \"0.9\"\nversion = \"1\"\n\n[[processes]]\ntype = \"web\"\ncommand = [\"a\", \"b\"]\nargs = [\"c\"]\ndirect = true\nbuildpack-id = \"bp\"\nworking-dir = \"/w\"\nexec-env = [\"test\"]\n",
    )
    .unwrap();
    let md = read_metadata(dir.path()).unwrap();
    assert_eq!(
        md,
        LaunchMetadata {
            processes: vec![MetadataProcess {
                process_type: "web".into(),
                command: vec!["a".into(), "b".into()],
                args: vec!["c".into()],
                direct: true,
                default: false,
                buildpack_id: "bp".into(),
                working_dir: "/w".into(),
                exec_env: vec!["test".into()],
            }],
            buildpacks: vec![MetadataBuildpack {
                id: "bp".into(),
                api: "0.9".into(),
            }],
        }
    );
    let err = read_metadata(&dir.path().join("none")).unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(
        err.to_string(),
        format!(
            "failed to read build metadata file: open {}: no such file or directory",
            metadata_path(&dir.path().join("none")).display()
        )
    );
}

/// Writes `text` as `metadata.toml` and reads it back as the launcher does.
fn read_text(text: &str) -> Result<LaunchMetadata, FileError> {
    let dir = tempfile::tempdir().unwrap();
    let path = metadata_path(dir.path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    read_metadata(dir.path())
}

#[test]
fn only_processes_and_buildpack_ids_and_apis_are_read() {
    // Keys the reference's launcher does not decode may hold anything.
    let md = read_text(
        r#"slices = "x"
bom = 1
labels = { a = 1 }
extensions = "none"
buildpack-default-process-type = 5

[[buildpacks]]
id = "bp"
api = "0.9"
version = 1
homepage = 5
optional = "no"

[[processes]]
type = "web"
command = "echo hi"
buildpackID = 7
unknown = [1, "a"]
"#,
    )
    .unwrap();
    assert_eq!(
        md.buildpacks,
        [MetadataBuildpack {
            id: "bp".into(),
            api: "0.9".into()
        }]
    );
    assert_eq!(md.processes[0].command, ["echo hi"]);
    assert_eq!(md.processes[0].buildpack_id, "");
    assert_eq!(read_text("").unwrap(), LaunchMetadata::default());
}

#[test]
fn keys_the_reference_decodes_keep_their_types() {
    for (text, want) in [
        ("processes = \"x\"\n", "toml: line 1: "),
        ("[[buildpacks]]\nid = 5\n", "toml: line 2: "),
        ("[[processes]]\ndirect = \"yes\"\n", "toml: line 2: "),
        ("[[processes]]\ndefault = 1\n", "toml: line 2: "),
        (
            "[[processes]]\ncommand = 5\n",
            "toml: line 2: unknown command type int64 with data 5",
        ),
    ] {
        let err = read_text(text).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("failed to read build metadata file: {want}")),
            "{text}: {err}"
        );
    }
}

#[test]
fn command_entries_read_as_go_prints_them() {
    let md = read_text(
        "[[processes]]\ncommand = [\"a\", 1, true, 1.5, [2, \"b\"], { y = 1, x = \"z\" }]\n",
    )
    .unwrap();
    assert_eq!(
        md.processes[0].command,
        ["a", "1", "true", "1.5", "[2 b]", "map[x:z y:1]"]
    );
}
