//! Least privilege, driven as platforms drive the phases: buildpacks and image
//! extensions run as the build user (`-uid`/`-gid`) with no other groups and no
//! capabilities even when the creator starts as root with supplementary groups; the
//! registry credentials given to the creator or to analyzer, restorer and exporter never
//! reach a buildpack, the files under `<layers>` and the app, or the image; what the
//! lifecycle writes while it runs as root ends up the build user's; detector and builder
//! refuse root; and the launcher hands the app the image's environment and the
//! buildpacks' only.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use spec_tests::export::static_launcher;
use spec_tests::images::{self, LayoutImage};
use spec_tests::registry::Registry;
use spec_tests::{BUILD_GID, BUILD_UID, Bp, Build, Ran, lifecycle_dir, run};

const LATEST: &str = "0.15";

/// The groups the platform process has when it starts the creator (root, adm, sudo).
const PLATFORM_GROUPS: [libc::gid_t; 3] = [0, 4, 27];

/// The registry user and its password, which must stay out of every buildpack's reach.
const REGISTRY_USER: &str = "cnb-pusher";
const REGISTRY_PASSWORD: &str = "pw-Secr3t-7f1c0de";

/// A bash function writing what the running process is (IDs, groups, capabilities)
/// as one line to `<probes>/<stage>`.
fn probe_fn(probes: &Path) -> String {
    format!(
        r#"probe() {{
  {{
    echo "id-u=$(id -u)"
    echo "id-g=$(id -g)"
    echo "id-G=$(id -G)"
    grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapAmb|CapBnd):' /proc/$$/status
  }} > "{}/$1"
}}
"#,
        probes.display()
    )
}

/// The probes written, by stage name.
fn probes(dir: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut all = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let text = fs::read_to_string(entry.path()).unwrap();
        let fields = text
            .lines()
            .filter_map(|l| l.split_once(['=', ':']))
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.split_whitespace().collect::<Vec<_>>().join(" "),
                )
            })
            .collect();
        all.insert(entry.file_name().to_string_lossy().into_owned(), fields);
    }
    all
}

/// Asserts every stage in `expected` probed itself as the build user: all four user
/// and group IDs, no supplementary group but the build group, no capability in the
/// permitted, effective, inheritable or ambient sets.
fn assert_build_user(dir: &Path, expected: &[&str]) {
    let all = probes(dir);
    let stages: Vec<&str> = all.keys().map(String::as_str).collect();
    assert_eq!(stages, expected, "stages that probed themselves");
    let (uid, gid) = (BUILD_UID.to_string(), BUILD_GID.to_string());
    for (stage, f) in &all {
        let get = |k: &str| {
            f.get(k)
                .unwrap_or_else(|| panic!("{stage}: no {k} in {f:?}"))
        };
        assert_eq!(get("id-u"), &uid, "{stage}");
        assert_eq!(get("id-g"), &gid, "{stage}");
        assert_eq!(get("Uid"), &[uid.as_str(); 4].join(" "), "{stage}");
        assert_eq!(get("Gid"), &[gid.as_str(); 4].join(" "), "{stage}");
        for groups in [get("id-G"), get("Groups")] {
            assert!(
                groups.split_whitespace().all(|g| g == gid),
                "{stage}: supplementary groups {groups:?} beyond {gid}"
            );
        }
        for cap in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
            assert_eq!(get(cap), "0000000000000000", "{stage}: {cap}");
        }
    }
}

/// A probe directory anyone may write, inside the build.
fn probe_dir(b: &Build) -> PathBuf {
    let dir = b.path("probes");
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
    dir
}

/// Makes `cmd` start with the platform's supplementary groups.
fn with_platform_groups(cmd: &mut Command) {
    // SAFETY: setgroups is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(PLATFORM_GROUPS.len(), PLATFORM_GROUPS.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Gives `path` to root, mode 0755, as a platform's freshly mounted volume.
fn root_owned(path: &Path) {
    fs::create_dir_all(path).unwrap();
    lchown(path, Some(0), Some(0)).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The layout flags for the creator, the run image moved where `run.toml` names it,
/// and the image name.
fn layout_args(b: &Build, run_image: &LayoutImage) -> Vec<String> {
    let layout = b.path("layout-repo");
    let run_dir = layout.join("example.com/run/latest");
    fs::create_dir_all(run_dir.parent().unwrap()).unwrap();
    fs::rename(&run_image.path, &run_dir).unwrap();
    b.write(
        "cnb/run.toml",
        "[[images]]\nimage = \"example.com/run:latest\"\n",
    );
    vec![
        "-layout".into(),
        "-layout-dir".into(),
        layout.display().to_string(),
        "-run".into(),
        b.path("cnb/run.toml").display().to_string(),
        "my-app".into(),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A build whose one buildpack probes its detect and build.
fn probing_build() -> (Build, PathBuf) {
    let b = Build::new(LATEST).with_env("CNB_EXPERIMENTAL_MODE", "warn");
    let dir = probe_dir(&b);
    let probe = probe_fn(&dir);
    b.buildpack(
        &Bp::new("test/prober", "1.0.0", "0.10")
            .detect(&format!("{probe}probe detect\n"))
            .build(&format!(
                "{probe}probe build\nmkdir -p \"$1/made\"\necho made > \"$1/made/file\"\nprintf '[types]\\nlaunch = true\\ncache = true\\n' > \"$1/made.toml\"\n"
            )),
    );
    b.order("[[order]]\n[[order.group]]\nid = \"test/prober\"\nversion = \"1.0.0\"\n");
    b.write("workspace/app.txt", "app\n");
    (b, dir)
}

#[test]
fn creator_started_as_root_with_groups_runs_buildpacks_as_the_build_user_only() {
    let (b, dir) = probing_build();
    let run_image = images::run_image(&b.path("run-image"), &[]);
    let args = layout_args(&b, &run_image);
    let mut cmd = b.creator_as_root(&strs(&args));
    with_platform_groups(&mut cmd);
    run(&mut cmd).expect_code(0);
    assert_build_user(&dir, &["build", "detect"]);
}

#[test]
fn extensions_and_buildpacks_of_separate_phases_run_as_the_build_user_only() {
    let b = Build::new(LATEST);
    let dir = probe_dir(&b);
    let probe = probe_fn(&dir);
    b.extension(
        "test/ext",
        "1.0.0",
        "0.10",
        Some(&format!(
            "{probe}probe ext-detect\nprintf '[[provides]]\\nname = \"thing\"\\n' >> \"$CNB_BUILD_PLAN_PATH\"\n"
        )),
        Some(&format!(
            "{probe}probe ext-generate\nprintf 'FROM example.com/run:other\\n' > \"$CNB_OUTPUT_DIR/run.Dockerfile\"\n"
        )),
    );
    b.buildpack(
        &Bp::new("test/prober", "1.0.0", "0.10")
            .detect(&format!(
                "{probe}probe detect\nprintf '[[requires]]\\nname = \"thing\"\\n' >> \"$CNB_BUILD_PLAN_PATH\"\n"
            ))
            .build(&format!("{probe}probe build\n")),
    );
    b.order(
        "[[order]]\n[[order.group]]\nid = \"test/prober\"\nversion = \"1.0.0\"\n\n\
         [[order-extensions]]\n[[order-extensions.group]]\nid = \"test/ext\"\nversion = \"1.0.0\"\n",
    );
    b.write(
        "cnb/run.toml",
        "[[images]]\nimage = \"example.com/run:latest\"\n",
    );
    let mut args = b.dir_flags();
    for (flag, rel) in [
        ("-order", "cnb/order.toml"),
        ("-extensions", "cnb/extensions"),
        ("-generated", "layers/generated"),
        ("-run", "cnb/run.toml"),
    ] {
        args.extend([flag.to_string(), b.path(rel).display().to_string()]);
    }
    run(&mut b.phase("detector", &strs(&args))).expect_code(0);
    run(&mut b.phase("builder", &strs(&b.dir_flags()))).expect_code(0);
    assert_build_user(&dir, &["build", "detect", "ext-detect", "ext-generate"]);
}

#[test]
fn detector_and_builder_refuse_root() {
    let (b, dir) = probing_build();
    let flags = b.dir_flags();
    let order = b.path("cnb/order.toml").display().to_string();
    let mut detect_args = strs(&flags);
    detect_args.extend(["-order", &order]);
    for (phase, args, action) in [
        ("detector", detect_args, "detect"),
        ("builder", strs(&flags), "build"),
    ] {
        let mut cmd = b.phase_as_root(phase, &args);
        with_platform_groups(&mut cmd);
        let ran = run(&mut cmd);
        ran.expect_code(1).expect_output(&format!(
            "ERROR: failed to {action}: refusing to run as root\n"
        ));
    }
    assert!(probes(&dir).is_empty(), "no buildpack ran as root");
}

/// Owner and group of a path (not followed).
fn owner(path: &Path) -> (u32, u32) {
    let meta = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (meta.uid(), meta.gid())
}

/// Asserts everything under `dir` (itself included) is the build user's.
fn assert_all_build_users(dir: &Path) {
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.unwrap();
        assert_eq!(
            owner(entry.path()),
            (BUILD_UID, BUILD_GID),
            "{} is not the build user's",
            entry.path().display()
        );
    }
}

#[test]
fn creator_gives_root_owned_volumes_and_what_it_writes_to_the_build_user() {
    let (b, _) = probing_build();
    let run_image = images::run_image(&b.path("run-image"), &[]);
    let mut args = layout_args(&b, &run_image);
    let cache = b.path("cache");
    let report = b.path("layers/report.toml");
    args.splice(
        0..0,
        [
            "-cache-dir".to_string(),
            cache.display().to_string(),
            "-report".into(),
            report.display().to_string(),
        ],
    );
    let mut cmd = b.creator_as_root(&strs(&args));
    // Fresh volumes as a platform mounts them: root's, a stale root file in the cache.
    root_owned(&b.path("layers"));
    root_owned(&cache);
    fs::write(cache.join("stale"), "root's").unwrap();
    run(&mut cmd).expect_code(0);
    for rel in [
        "layers/analyzed.toml",
        "layers/group.toml",
        "layers/plan.toml",
        "layers/config/metadata.toml",
        "layers/report.toml",
        "layers/test_prober",
        "layers/test_prober/made",
    ] {
        assert_eq!(owner(&b.path(rel)), (BUILD_UID, BUILD_GID), "{rel}");
    }
    assert_all_build_users(&b.path("layers"));
    assert_all_build_users(&cache);
    assert!(
        fs::read_dir(cache.join("committed")).is_ok_and(|mut d| d.next().is_some()),
        "the cache holds the layer"
    );
}

/// A buildpack that tries every way to the credentials and records what it found in a
/// launch layer and in the app: its environment, the docker configs at `configs`, the
/// environment of PID 1, of its parent and of every process it can read.
fn snooper(configs: &[&Path]) -> String {
    let configs: Vec<String> = configs
        .iter()
        .map(|p| format!("\"{}\"", p.display()))
        .collect();
    format!(
        r#"layers="$1"
mkdir -p "$layers/snoop"
{{
  echo "== env"; env
  for f in {} /proc/1/environ /proc/$PPID/environ /proc/[0-9]*/environ; do
    echo "== $f"; tr '\0' '\n' < "$f"
  done
  echo "== parent: $(tr '\0' ' ' < /proc/$PPID/cmdline)"
}} > "$layers/snoop/found.txt" 2>&1
cp "$layers/snoop/found.txt" found.txt
printf '[types]\nlaunch = true\ncache = true\n' > "$layers/snoop.toml"
cat "$layers/snoop/found.txt"
"#,
        configs.join(" ")
    )
}

/// The strings that give the registry password away.
fn secrets() -> Vec<String> {
    let basic = STANDARD.encode(format!("{REGISTRY_USER}:{REGISTRY_PASSWORD}"));
    vec![REGISTRY_PASSWORD.to_string(), basic]
}

/// Files under `dir` holding a secret.
fn files_with_secrets(dir: &Path) -> Vec<PathBuf> {
    let secrets = secrets();
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            let bytes = fs::read(e.path()).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            secrets.iter().any(|s| text.contains(s.as_str()))
        })
        .map(|e| e.path().to_path_buf())
        .collect()
}

/// Asserts no secret is in `text`.
fn assert_no_secret(what: &str, text: &str) {
    for secret in secrets() {
        assert!(!text.contains(&secret), "{what} holds a secret:\n{text}");
    }
}

/// Asserts the image `name` in `registry` has no secret in its config or any layer.
fn assert_image_clean(registry: &Registry, name: &str) {
    let manifest: Value = serde_json::from_slice(&registry.inspect_raw(name)).unwrap();
    let config =
        fs::read(registry.blob_path(manifest["config"]["digest"].as_str().unwrap())).unwrap();
    assert_no_secret("image config", &String::from_utf8_lossy(&config));
    let mut found_snoop = false;
    for layer in manifest["layers"].as_array().unwrap() {
        let path = registry.blob_path(layer["digest"].as_str().unwrap());
        let out = Command::new("zcat").arg(&path).output().unwrap();
        assert!(out.status.success(), "zcat {}", path.display());
        let text = String::from_utf8_lossy(&out.stdout);
        found_snoop |= text.contains("== env");
        assert_no_secret(&format!("layer {}", layer["digest"]), &text);
    }
    assert!(found_snoop, "the image carries what the buildpack found");
}

/// Asserts the buildpack really looked (its record names its parent, `parent`, and the
/// places it read), found no secret, and none is under `<layers>` or the app.
fn assert_buildpack_found_nothing(b: &Build, parent: &str) {
    let found = b.read("layers/test_snooper/snoop/found.txt");
    for needle in [
        "== env\n",
        "CNB_LAYERS_DIR=",
        "== /proc/1/environ",
        &format!("== parent: {}", lifecycle_dir().join(parent).display()),
    ] {
        assert!(found.contains(needle), "{needle:?} not in:\n{found}");
    }
    assert_no_secret("the buildpack's findings", &found);
    for dir in ["layers", "workspace"] {
        assert_eq!(
            files_with_secrets(&b.path(dir)),
            Vec::<PathBuf>::new(),
            "{dir}"
        );
    }
}

/// A build with [`snooper`] as its buildpack trying `home/.docker/config.json` and
/// `docker-config/config.json` of the build, and the run image in `registry`.
fn snooping_build(registry: &Registry) -> Build {
    let b = Build::new(LATEST);
    let configs = [
        b.path("home/.docker/config.json"),
        b.path("docker-config/config.json"),
    ];
    let configs: Vec<&Path> = configs.iter().map(PathBuf::as_path).collect();
    b.buildpack(&Bp::new("test/snooper", "1.0.0", "0.10").build(&snooper(&configs)));
    b.order("[[order]]\n[[order.group]]\nid = \"test/snooper\"\nversion = \"1.0.0\"\n");
    b.write("workspace/app.txt", "app\n");
    let run_image = images::run_image(&b.path("run-image"), &[]);
    registry.seed(&run_image.path, "latest", "run:latest");
    b.write(
        "cnb/run.toml",
        &format!("[[images]]\nimage = \"{}\"\n", registry.image("run:latest")),
    );
    b
}

/// Writes the registry's docker config in `home/.docker` and `docker-config` of the
/// build, root's and 0600, after the build tree was last given to the build user.
fn root_docker_configs(registry: &Registry, b: &Build) {
    for dir in [b.path("home/.docker"), b.path("docker-config")] {
        fs::create_dir_all(&dir).unwrap();
        let path = registry.docker_config(&dir);
        for p in [&dir, &path] {
            lchown(p, Some(0), Some(0)).unwrap();
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn creator_credentials_never_reach_buildpacks_files_or_the_image() {
    let registry = Registry::basic(REGISTRY_USER, REGISTRY_PASSWORD);
    let b = snooping_build(&registry);
    let run_toml = b.path("cnb/run.toml").display().to_string();
    let image = registry.image("app:latest");
    let cache = b.path("cache").display().to_string();
    let mut cmd = b.creator_as_root(&[
        "-run",
        &run_toml,
        "-cache-dir",
        &cache,
        "-log-level",
        "debug",
        &image,
    ]);
    cmd.env("DOCKER_CONFIG", b.path("docker-config"));
    root_docker_configs(&registry, &b);
    root_owned(&b.path("cache"));
    with_platform_groups(&mut cmd);
    let ran = run(&mut cmd);
    ran.expect_code(0);
    assert_no_secret("the creator's output", &ran.all());
    assert_buildpack_found_nothing(&b, "creator");
    assert_image_clean(&registry, "app:latest");
    assert_eq!(files_with_secrets(&b.path("cache")), Vec::<PathBuf>::new());
}

/// Runs `phase` as root with `-uid`/`-gid` and `args` after `prepare` changed the tree.
fn as_root(
    b: &Build,
    phase: &str,
    args: &[&str],
    env: &[(&str, &str)],
    prepare: impl FnOnce(),
) -> Ran {
    let (uid, gid) = (BUILD_UID.to_string(), BUILD_GID.to_string());
    let mut all = vec!["-uid", uid.as_str(), "-gid", gid.as_str()];
    all.extend_from_slice(args);
    let mut cmd = b.phase_as_root(phase, &all);
    cmd.envs(env.iter().copied());
    prepare();
    with_platform_groups(&mut cmd);
    run(&mut cmd)
}

#[test]
fn separate_phases_keep_credentials_and_leave_their_files_to_the_build_user() {
    let registry = Registry::basic(REGISTRY_USER, REGISTRY_PASSWORD);
    let b = snooping_build(&registry);
    let auth = registry.registry_auth();
    let auth_env = [("CNB_REGISTRY_AUTH", auth.as_str())];
    let layers = b.path("layers").display().to_string();
    let cache = b.path("cache").display().to_string();
    let report = b.path("layers/rebase-report.toml").display().to_string();
    let launcher = static_launcher().display().to_string();
    let run_name = registry.image("run:latest");
    let image = registry.image("app:latest");
    let mut outputs = vec![];

    // The analyzer as root on a root-owned layers volume.
    let ran = as_root(
        &b,
        "analyzer",
        &["-layers", &layers, "-run-image", &run_name, &image],
        &auth_env,
        || root_owned(&b.path("layers")),
    );
    outputs.push(ran.expect_code(0).all());
    assert_all_build_users(&b.path("layers"));

    // Detector and builder as the build user, given the credentials by mistake.
    let flags = b.dir_flags();
    let order = b.path("cnb/order.toml").display().to_string();
    let mut detect_args = strs(&flags);
    detect_args.extend(["-order", &order]);
    let mut detect = b.phase("detector", &detect_args);
    outputs.push(run(detect.envs(auth_env)).expect_code(0).all());

    // The restorer as root with a root-owned cache volume holding a root file.
    let ran = as_root(
        &b,
        "restorer",
        &["-layers", &layers, "-cache-dir", &cache],
        &auth_env,
        || {
            root_owned(&b.path("cache"));
            fs::write(b.path("cache/stale"), "root's").unwrap();
        },
    );
    outputs.push(ran.expect_code(0).all());
    assert_all_build_users(&b.path("cache"));
    assert_all_build_users(&b.path("layers"));

    let mut build = b.phase("builder", &strs(&flags));
    outputs.push(run(build.envs(auth_env)).expect_code(0).all());

    // The exporter as root with credentials in a docker config only, a root-owned cache.
    let docker_config = b.path("docker-config").display().to_string();
    let ran = as_root(
        &b,
        "exporter",
        &[
            "-layers",
            &layers,
            "-app",
            &b.path("workspace").display().to_string(),
            "-launcher",
            &launcher,
            "-cache-dir",
            &cache,
            &image,
        ],
        &[("DOCKER_CONFIG", docker_config.as_str())],
        || {
            lchown(b.path("cache"), Some(0), Some(0)).unwrap();
            root_docker_configs(&registry, &b);
        },
    );
    outputs.push(ran.expect_code(0).all());
    assert_eq!(owner(&b.path("layers/report.toml")), (BUILD_UID, BUILD_GID));
    assert_all_build_users(&b.path("cache"));

    // The rebaser as root writes its report as the build user.
    let ran = as_root(
        &b,
        "rebaser",
        &[
            "-report",
            &report,
            "-force",
            "-run-image",
            &run_name,
            &image,
        ],
        &auth_env,
        || (),
    );
    outputs.push(ran.expect_code(0).all());
    assert_eq!(
        owner(&b.path("layers/rebase-report.toml")),
        (BUILD_UID, BUILD_GID)
    );

    for out in &outputs {
        assert_no_secret("a phase's output", out);
    }
    assert_buildpack_found_nothing(&b, "builder");
    assert_image_clean(&registry, "app:latest");
    assert_eq!(files_with_secrets(&b.path("cache")), Vec::<PathBuf>::new());
}

#[test]
fn the_app_gets_the_image_env_and_the_buildpacks_env_only() {
    let root = tempfile::tempdir().unwrap();
    let put = |rel: &str, text: &str| {
        let p = root.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
    };
    let layers = root.path().join("layers");
    let app = root.path().join("workspace");
    let layer = layers.join("test_bp/tools");
    fs::create_dir_all(layer.join("bin")).unwrap();
    fs::create_dir_all(&app).unwrap();
    put(
        "layers/config/metadata.toml",
        "[[buildpacks]]\n  id = \"test/bp\"\n  version = \"1.0.0\"\n  api = \"0.10\"\n\n\
         [[processes]]\n  type = \"web\"\n  command = [\"/usr/bin/env\"]\n  args = []\n  direct = true\n  \
         buildpack-id = \"test/bp\"\n  default = true\n",
    );
    put(
        "layers/test_bp/tools/env.launch/BP_VAR.override",
        "from-buildpack",
    );
    put("layers/test_bp/tools/env/BOTH_VAR.default", "from-layer");
    fs::create_dir_all(root.path().join("cnb/lifecycle")).unwrap();
    fs::create_dir_all(root.path().join("cnb/process")).unwrap();
    symlink(
        lifecycle_dir().join("launcher"),
        root.path().join("cnb/lifecycle/launcher"),
    )
    .unwrap();
    symlink("../lifecycle/launcher", root.path().join("cnb/process/web")).unwrap();

    // The image's environment: the run image's, the exporter's CNB_* and the platform's.
    let image_env = [
        ("PATH", "/cnb/process:/cnb/lifecycle:/usr/bin:/bin"),
        ("HOME", "/home/cnb"),
        ("IMAGE_VAR", "from-image"),
        ("CNB_USER_ID", "1000"),
        ("CNB_GROUP_ID", "1000"),
        ("CNB_LAYERS_DIR", &layers.display().to_string()),
        ("CNB_APP_DIR", &app.display().to_string()),
        ("CNB_PLATFORM_API", LATEST),
        ("CNB_DEPRECATION_MODE", "quiet"),
        ("CNB_PROCESS_TYPE", "web"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let ran = run(Command::new(root.path().join("cnb/process/web"))
        .env_clear()
        .envs(image_env.iter().map(|(k, v)| (k, v)))
        .current_dir("/")
        .uid(BUILD_UID)
        .gid(BUILD_GID));
    ran.expect_code(0);
    // CNB_PROCESS_TYPE is warned about (as the reference does), then dropped.
    ran.expect_output("CNB_PROCESS_TYPE is not supported in Platform API 0.15");
    let got: BTreeMap<&str, &str> = ran
        .stdout
        .lines()
        .filter(|l| !l.contains("Warning: "))
        .map(|l| l.split_once('=').unwrap_or((l, "")))
        .collect();
    let path = format!("{}:/usr/bin:/bin", layer.join("bin").display());
    let expected = BTreeMap::from([
        ("PATH", path.as_str()),
        ("HOME", "/home/cnb"),
        ("IMAGE_VAR", "from-image"),
        ("CNB_USER_ID", "1000"),
        ("CNB_GROUP_ID", "1000"),
        ("BP_VAR", "from-buildpack"),
        ("BOTH_VAR", "from-layer"),
    ]);
    assert_eq!(got, expected, "stderr: {}", ran.stderr);
}
