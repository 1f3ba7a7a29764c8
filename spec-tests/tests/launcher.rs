//! The launcher driven as an app image runs it: the reference's launcher acceptance
//! scenarios against an app laid out like its fixture image (buildpacks of API 0.7,
//! 0.8 and 0.9, layer env files, profile scripts, exec.d helpers, `/cnb/process`
//! links), plus the LCH-* checklist items: exec replaces the launcher (same PID,
//! signals and exit status belong to the app), error wording and exit codes, and a run
//! of the static launcher in a root file system without any C library.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use spec_tests::{Ran, lifecycle_dir, run};

const LATEST: &str = "0.15";

/// The process types the fixture image links under `/cnb/process`.
const PROCESS_TYPES: [&str; 13] = [
    "web",
    "direct-process",
    "indirect-process-with-args",
    "legacy-indirect-process-with-args",
    "legacy-indirect-process-with-incorrect-args",
    "indirect-process-with-script",
    "profile-checker",
    "exec.d-checker",
    "worker",
    "process.with.period",
    "direct-with-args",
    "in-subdir",
    "test-only",
];

/// The fixture's `metadata.toml`: three buildpacks of different APIs and processes
/// exercising every argument and shell rule.
const METADATA: &str = r#"[[buildpacks]]
  id = "0.9/buildpack"
  version = "0.0.1"
  api = "0.9"

[[buildpacks]]
  id = "0.8/buildpack"
  version = "0.0.1"
  api = "0.8"

[[buildpacks]]
  id = "0.7/buildpack"
  version = "0.0.1"
  api = "0.7"

[[processes]]
  type = "web"
  command = "echo"
  args = ["Executing web process-type"]
  direct = false
  buildpack-id = "0.8/buildpack"

[[processes]]
  type = "direct-process"
  command = "echo"
  args = ["Executing direct-process process-type"]
  direct = true
  buildpack-id = "0.8/buildpack"

[[processes]]
  type = "indirect-process-with-args"
  command = "printf"
  args = ["'%s' '%s'", "$VAR1", "$VAR2"]
  direct = false
  buildpack-id = "0.8/buildpack"

[[processes]]
  type = "legacy-indirect-process-with-args"
  command = "printf \"'%s' '%s'\" \"$0\" \"$1\""
  args = ["arg", "arg with spaces"]
  direct = false
  buildpack-id = "0.7/buildpack"

[[processes]]
  type = "legacy-indirect-process-with-incorrect-args"
  command = "printf"
  args = ["'%s' '%s'", "arg", "arg with spaces"]
  direct = false
  buildpack-id = "0.7/buildpack"

[[processes]]
  type = "indirect-process-with-script"
  command = "printf \"'%s' '%s'\" \"$VAR1\" \"$VAR2\""
  direct = false
  buildpack-id = "0.8/buildpack"

[[processes]]
  type = "profile-checker"
  command = "echo"
  args = ["$VAR_FROM_PROFILE"]
  direct = false
  buildpack-id = "0.8/buildpack"

[[processes]]
  type = "exec.d-checker"
  command = "printf"
  args = ['VAR_FROM_EXEC_D: "%s"', "$VAR_FROM_EXEC_D"]
  direct = false
  buildpack-id = "0.9/buildpack"

[[processes]]
  type = "worker"
  command = "echo"
  args = ["$WORKER_VAR"]
  direct = false
  buildpack-id = "0.8/buildpack"

[[processes]]
  type = "process.with.period"
  command = "echo"
  args = ["Executing process.with.period process-type"]
  direct = false
  buildpack-id = "0.8/buildpack"

[[processes]]
  type = "direct-with-args"
  command = ["printf", "[%s]"]
  args = ["default-arg"]
  direct = true
  buildpack-id = "0.9/buildpack"

[[processes]]
  type = "in-subdir"
  command = ["pwd"]
  direct = true
  buildpack-id = "0.9/buildpack"
  working-dir = "WORKDIR"

[[processes]]
  type = "test-only"
  command = ["echo", "running in test"]
  direct = true
  buildpack-id = "0.9/buildpack"
  exec-env = ["test"]
"#;

/// An exec.d helper in shell: reports itself and its working directory, then appends
/// to `VAR_FROM_EXEC_D` through fd 3 (the process-type helper says which type).
const EXEC_D_HELPER: &str = r#"#!/bin/sh
echo "$0 was executed"
echo "Exec.d Working Dir: $(pwd)"
parent=$(basename "$(dirname "$0")")
val=val-from-exec.d
if [ "$parent" != exec.d ]; then val="val-from-exec.d-for-process-type-$parent"; fi
if [ -n "$VAR_FROM_EXEC_D" ]; then val="$VAR_FROM_EXEC_D:$val"; fi
printf 'VAR_FROM_EXEC_D = "%s"' "$val" >&3
"#;

/// An app image's file system in a temporary directory.
struct App {
    root: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl App {
    /// The reference's launcher fixture.
    fn new() -> Self {
        let app = App {
            root: tempfile::Builder::new()
                .prefix("cnb-launch-")
                .tempdir()
                .expect("tempdir"),
            env: Vec::new(),
        };
        let layer8 = "layers/0.8_buildpack/some_layer";
        app.write(
            &format!("{layer8}/bin/bp-executable"),
            "#!/bin/sh\necho \"bp executable\"\n",
        );
        app.chmod_x(&format!("{layer8}/bin/bp-executable"));
        app.write(&format!("{layer8}/env/SOME_VAR"), "some-bp-val");
        app.write(&format!("{layer8}/env/WORKER_VAR"), "worker-no-process-val");
        app.write(
            &format!("{layer8}/env.launch/OTHER_VAR.append"),
            "other-bp-val",
        );
        app.write(&format!("{layer8}/env.launch/OTHER_VAR.delim"), "**");
        app.write(
            &format!("{layer8}/env.launch/worker/WORKER_VAR"),
            "worker-process-val",
        );
        app.write(
            &format!("{layer8}/profile.d/0_bp_profile.sh"),
            "echo \"sourced bp profile\"\n",
        );
        app.write(
            &format!("{layer8}/profile.d/profile-checker/0_bp_profile_checker.sh"),
            "echo \"sourced bp profile-checker profile\"\n",
        );
        let layer9 = "layers/0.9_buildpack/some_layer";
        for helper in [
            format!("{layer9}/exec.d/helper"),
            format!("{layer9}/exec.d/exec.d-checker/helper"),
        ] {
            app.write(&helper, EXEC_D_HELPER);
            app.chmod_x(&helper);
        }
        let workdir = app.path("workspace/sub");
        fs::create_dir_all(&workdir).expect("mkdir");
        app.write(
            "layers/config/metadata.toml",
            &METADATA.replace("WORKDIR", &workdir.display().to_string()),
        );
        app.write(
            "workspace/.profile",
            "export VAR_FROM_PROFILE=val-from-profile\n\necho \"sourced app profile\"\n",
        );
        fs::create_dir_all(app.path("cnb/lifecycle")).expect("mkdir");
        fs::create_dir_all(app.path("cnb/process")).expect("mkdir");
        symlink(
            lifecycle_dir().join("launcher"),
            app.path("cnb/lifecycle/launcher"),
        )
        .expect("link launcher");
        for t in PROCESS_TYPES {
            symlink(
                "../lifecycle/launcher",
                app.path(&format!("cnb/process/{t}")),
            )
            .expect("link process");
        }
        app.with_env("CNB_PLATFORM_API", LATEST)
    }

    fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn write(&self, rel: &str, contents: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, contents).expect("write");
    }

    fn chmod_x(&self, rel: &str) {
        fs::set_permissions(self.path(rel), fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    /// The launcher invoked as `entrypoint` (`launcher` or a process type) with `args`,
    /// in the image's environment.
    fn command(&self, entrypoint: &str, args: &[&str]) -> Command {
        let exe = if entrypoint == "launcher" {
            self.path("cnb/lifecycle/launcher")
        } else {
            self.path(&format!("cnb/process/{entrypoint}"))
        };
        let mut cmd = self.in_image(&exe);
        cmd.args(args);
        cmd
    }

    /// `program` run with the image's environment.
    fn in_image(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("CNB_LAYERS_DIR", self.path("layers"))
            .env("CNB_APP_DIR", self.path("workspace"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir("/");
        cmd
    }

    fn run(&self, entrypoint: &str, args: &[&str]) -> Ran {
        run(&mut self.command(entrypoint, args))
    }
}

#[test]
fn exec_d_runs_before_profiles_and_modifies_env() {
    let app = App::new()
        .with_env("CNB_PLATFORM_API", "0.7")
        .with_env("VAR_FROM_EXEC_D", "orig-val");
    let ran = app.run("exec.d-checker", &[]);
    ran.expect_code(0);
    let layer = app.path("layers/0.9_buildpack/some_layer");
    let workspace = app.path("workspace");
    let expected = format!(
        "{0}/exec.d/helper was executed\nExec.d Working Dir: {1}\n\
         {0}/exec.d/exec.d-checker/helper was executed\nExec.d Working Dir: {1}\n\
         sourced bp profile\nsourced app profile\n\
         VAR_FROM_EXEC_D: orig-val:val-from-exec.d:val-from-exec.d-for-process-type-exec.d-checker",
        layer.display(),
        workspace.display()
    );
    assert_eq!(ran.stdout, expected, "stderr: {}", ran.stderr);
}

#[test]
fn entrypoint_is_a_process() {
    let app = App::new();
    app.run("web", &[])
        .expect_code(0)
        .expect_output("Executing web process-type\n");
    app.run("process.with.period", &[])
        .expect_code(0)
        .expect_output("Executing process.with.period process-type");
    // A 0.8 buildpack's process: user arguments are appended.
    app.run("web", &["with user provided args"])
        .expect_code(0)
        .expect_output("Executing web process-type with user provided args");
}

#[test]
fn command_after_double_dash_runs_directly_with_layer_env() {
    let app = App::new().with_env("SOME_USER_VAR", "some-user-val");
    let ran = app.run("launcher", &["--", "env"]);
    ran.expect_code(0)
        .expect_output("SOME_VAR=some-bp-val\n")
        .expect_output("OTHER_VAR=other-bp-val\n")
        .expect_output("SOME_USER_VAR=some-user-val\n")
        .expect_no_output("CNB_APP_DIR=")
        .expect_no_output("CNB_LAYERS_DIR=")
        .expect_no_output("CNB_PLATFORM_API=")
        .expect_no_output("sourced");
    app.run("launcher", &["--", "echo", "something"])
        .expect_code(0)
        .expect_output("something\n")
        .expect_no_output("sourced");
    // Layer bin directories are on the PATH used to find the command.
    app.run("launcher", &["--", "bp-executable"])
        .expect_code(0)
        .expect_output("bp executable");
}

#[test]
fn cnb_process_type_only_warns() {
    let app = App::new()
        .with_env("CNB_PROCESS_TYPE", "direct-process")
        .with_env("CNB_NO_COLOR", "true");
    let ran = app.run("launcher", &[]);
    ran.expect_code(82);
    assert_eq!(
        ran.stdout,
        "Warning: CNB_PROCESS_TYPE is not supported in Platform API 0.15\n\
         Warning: Run with ENTRYPOINT 'direct-process' to invoke the 'direct-process' process type\n\
         ERROR: failed to launch: determine start command: when there is no default process a command is required\n"
    );
}

#[test]
fn messages_are_coloured_unless_disabled() {
    let app = App::new().with_env("CNB_PROCESS_TYPE", "web");
    let ran = app.run("launcher", &[]);
    ran.expect_code(82);
    assert_eq!(
        ran.stdout,
        "\x1b[33;1mWarning: \x1b[0mCNB_PROCESS_TYPE is not supported in Platform API 0.15\n\
         \x1b[33;1mWarning: \x1b[0mRun with ENTRYPOINT 'web' to invoke the 'web' process type\n\
         \x1b[31;1mERROR: \x1b[0mfailed to launch: determine start command: when there is no default process a command is required\n"
    );
}

#[test]
fn other_commands_run_in_a_shell_after_profiles() {
    let app = App::new();
    app.run("launcher", &["echo", "something"])
        .expect_code(0)
        .expect_output("sourced bp profile\nsourced app profile\nsomething");
    app.run(
        "launcher",
        &["echo", "$SOME_VAR", "$OTHER_VAR", "$WORKER_VAR"],
    )
    .expect_code(0)
    .expect_output(
        "sourced bp profile\nsourced app profile\nsome-bp-val other-bp-val worker-no-process-val",
    );
    app.run("launcher", &["bp-executable"])
        .expect_code(0)
        .expect_output("bp executable");
}

#[test]
fn user_env_passes_through_except_lifecycle_inputs() {
    let app = App::new()
        .with_env("SOME_USER_VAR", "some-user-val")
        .with_env("OTHER_VAR", "other-user-val");
    app.run(
        "launcher",
        &["echo", "$SOME_USER_VAR, $CNB_APP_DIR, $OTHER_VAR"],
    )
    .expect_code(0)
    .expect_output(
        "sourced bp profile\nsourced app profile\nsome-user-val, , other-user-val**other-bp-val",
    );
}

#[test]
fn process_specific_env_profiles_and_tokens() {
    let app = App::new()
        .with_env("VAR1", "val1")
        .with_env("VAR2", "val with  spaces");
    app.run("worker", &[])
        .expect_code(0)
        .expect_output("worker-process-val\n");
    app.run("profile-checker", &[]).expect_code(0).expect_output(
        "sourced bp profile\nsourced bp profile-checker profile\nsourced app profile\nval-from-profile\n",
    );
    // Each token is evaluated on its own: variables expand, quoting is kept.
    app.run("indirect-process-with-args", &[])
        .expect_code(0)
        .expect_output("'val1' 'val with  spaces'");
    // Without arguments the command is a script.
    app.run("indirect-process-with-script", &[])
        .expect_code(0)
        .expect_output("'val1' 'val with  spaces'");
    app.run("legacy-indirect-process-with-incorrect-args", &[])
        .expect_code(0)
        .expect_output("'arg' 'arg with spaces'");
    // A 0.7 buildpack's multi-word command is one token: there is no such command.
    app.run("legacy-indirect-process-with-args", &[])
        .expect_code(127);
    // Direct processes never see profile scripts.
    app.run("direct-process", &[])
        .expect_code(0)
        .expect_output("Executing direct-process process-type\n")
        .expect_no_output("sourced");
}

#[test]
fn overridable_args_and_working_dir() {
    let app = App::new();
    app.run("direct-with-args", &[])
        .expect_code(0)
        .expect_output("[default-arg]");
    app.run("direct-with-args", &["a", "b"])
        .expect_code(0)
        .expect_output("[a][b]")
        .expect_no_output("default-arg");
    // Below Platform API 0.10 user arguments are appended.
    let old = App::new().with_env("CNB_PLATFORM_API", "0.9");
    old.run("direct-with-args", &["a"])
        .expect_code(0)
        .expect_output("[default-arg][a]");
    let sub = app.path("workspace/sub");
    app.run("in-subdir", &[])
        .expect_code(0)
        .expect_output(&format!("{}\n", sub.display()));
}

#[test]
fn exec_env_filters_processes_from_platform_0_15() {
    let app = App::new().with_env("CNB_NO_COLOR", "1");
    app.run("test-only", &[]).expect_code(82).expect_output(
        "ERROR: failed to launch: determine start command: process type test-only was not found\n",
    );
    let test = App::new().with_env("CNB_EXEC_ENV", "test");
    test.run("test-only", &[])
        .expect_code(0)
        .expect_output("running in test");
    let old = App::new().with_env("CNB_PLATFORM_API", "0.14");
    old.run("test-only", &[])
        .expect_code(0)
        .expect_output("running in test");
}

#[test]
fn lifecycle_directories_leave_the_path() {
    let app = App::new();
    let mut cmd = app.command("launcher", &["--", "sh", "-c", "echo \"PATH=$PATH\""]);
    cmd.env(
        "PATH",
        "/cnb/process:/usr/bin:/cnb/lifecycle:/bin:/cnb/process",
    );
    let bin = app.path("layers/0.8_buildpack/some_layer/bin");
    run(&mut cmd)
        .expect_code(0)
        .expect_output(&format!("PATH={}:/usr/bin:/bin\n", bin.display()));
}

#[test]
fn direct_exec_replaces_the_launcher() {
    let app = App::new();
    let child = app
        .command("launcher", &["--", "sh", "-c", "echo $$"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id().to_string();
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    // The last line; the exec.d helper reports first.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(text.lines().last(), Some(pid.as_str()), "{text}");
    // Through the shell, the outer bash execs the nested one: same PID again.
    let child = app
        .command("launcher", &["echo $$"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        text.lines().last(),
        Some(pid.to_string().as_str()),
        "{text}"
    );
}

#[test]
fn inherited_descriptors_reach_the_app_past_exec_d() {
    // The exec.d helper gets its own fd 3; the app still gets the one the launcher
    // inherited.
    let app = App::new();
    app.write("inherited.txt", "inherited-fd-3\n");
    let launcher = app.path("cnb/lifecycle/launcher");
    let mut cmd = app.in_image(Path::new("/bin/sh"));
    cmd.arg("-c")
        .arg("exec 3<\"$1\"; exec \"$2\" -- sh -c 'cat <&3'")
        .arg("sh")
        .arg(app.path("inherited.txt"))
        .arg(&launcher);
    run(&mut cmd)
        .expect_code(0)
        .expect_output("was executed\n")
        .expect_output("inherited-fd-3\n");
}

#[test]
fn signals_and_exit_status_belong_to_the_app() {
    let app = App::new();
    let script = "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done";
    let mut child = app
        .command("launcher", &["--", "sh", "-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .map_while(Result::ok);
    // Past the exec.d helper's report.
    assert!(lines.any(|l| l == "ready"), "the app never started");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("kill");
    assert_eq!(lines.next().as_deref(), Some("got TERM"));
    assert_eq!(child.wait().expect("wait").code(), Some(7));
    app.run("launcher", &["--", "sh", "-c", "exit 42"])
        .expect_code(42);
    app.run("launcher", &["exit 43"]).expect_code(43);
}

#[test]
fn launch_failures_exit_82() {
    let app = App::new().with_env("CNB_NO_COLOR", "true");
    app.run("launcher", &[]).expect_code(82).expect_output(
        "ERROR: failed to launch: determine start command: when there is no default process a command is required\n",
    );
    app.run("launcher", &["--", "no-such-command"])
        .expect_code(82)
        .expect_output(
            "ERROR: failed to launch: path lookup: exec: \"no-such-command\": executable file not found in $PATH\n",
        );
    let missing_app = App::new()
        .with_env("CNB_NO_COLOR", "true")
        .with_env("CNB_APP_DIR", "/nonexistent-app");
    missing_app.run("web", &[]).expect_code(82).expect_output(
        "ERROR: failed to launch: change to app directory: chdir /nonexistent-app: no such file or directory\n",
    );
}

#[test]
fn failing_or_garbled_exec_d_is_a_launch_error() {
    let app = App::new().with_env("CNB_NO_COLOR", "true");
    let helper = "layers/0.9_buildpack/some_layer/exec.d/helper";
    app.write(helper, "#!/bin/sh\necho failing >&2\nexit 3\n");
    let ran = app.run("web", &[]);
    ran.expect_code(82)
        .expect_output(&format!(
            "ERROR: failed to launch: exec.d: failed to execute exec.d file at path '{}': exit status 3\n",
            app.path(helper).display()
        ))
        .expect_output("failing\n");
    app.write(helper, "#!/bin/sh\necho 'export X=1' >&3\n");
    app.run("web", &[]).expect_code(82).expect_output(&format!(
        "ERROR: failed to launch: exec.d: failed to decode output from exec.d file at path '{}': ",
        app.path(helper).display()
    ));
    fs::set_permissions(app.path(helper), fs::Permissions::from_mode(0o644)).expect("chmod");
    app.run("web", &[]).expect_code(82).expect_output(&format!(
        "ERROR: failed to launch: exec.d: failed to execute exec.d file at path '{0}': fork/exec {0}: permission denied\n",
        app.path(helper).display()
    ));
    app.chmod_x(helper);
    app.write(helper, "#!/bin/sh\necho 'PORT = 8080' >&3\n");
    app.run("web", &[])
        .expect_code(82)
        .expect_output("'PORT' must be a string");
    // Standard input is /dev/null, as for the reference's helpers.
    app.write(
        helper,
        "#!/bin/sh\nprintf 'STDIN = \"%s\"' \"$(readlink /proc/$$/fd/0)\" >&3\n",
    );
    app.run("launcher", &["--", "sh", "-c", "echo \"stdin=[$STDIN]\""])
        .expect_code(0)
        .expect_output("stdin=[/dev/null]");
}

#[test]
fn exec_d_order_across_layers_and_buildpacks() {
    let app = App::new();
    let append = "#!/bin/sh\nprintf 'ORDER = \"%s\"' \"${ORDER:+$ORDER,}$1$(basename \"$(dirname \"$0\")\")/$(basename \"$0\")\" >&3\n";
    for p in [
        "layers/0.9_buildpack/some_layer/exec.d/helper",
        "layers/0.9_buildpack/some_layer/exec.d/exec.d-checker/helper",
        "layers/0.9_buildpack/a_layer/exec.d/2",
        "layers/0.9_buildpack/a_layer/exec.d/1",
        "layers/0.9_buildpack/a_layer/exec.d/worker/w",
        "layers/0.9_buildpack/a_layer/exec.d/web/x",
        "layers/0.7_buildpack/layer/exec.d/last",
    ] {
        app.write(p, append);
        app.chmod_x(p);
    }
    app.run("web", &["$ORDER"]).expect_code(0).expect_output(
        "Executing web process-type exec.d/1,exec.d/2,web/x,exec.d/helper,exec.d/last\n",
    );
    // A user command has no process type: only the generic programs run.
    app.run("launcher", &["--", "sh", "-c", "echo $ORDER"])
        .expect_code(0)
        .expect_output("exec.d/1,exec.d/2,exec.d/helper,exec.d/last\n");
}

#[test]
fn bad_inputs_before_launch() {
    let app = App::new()
        .with_env("CNB_NO_COLOR", "true")
        .with_env("CNB_PLATFORM_API", "");
    app.run("web", &[]).expect_code(11).expect_output(
        "ERROR: failed to get platform API version; please set 'CNB_PLATFORM_API' to specify the desired platform API version\n",
    );
    let app = App::new()
        .with_env("CNB_NO_COLOR", "true")
        .with_env("CNB_PLATFORM_API", "0.6");
    app.run("web", &[]).expect_code(11).expect_output(
        "ERROR: failed to set platform API: platform API version '0.6' is incompatible with the lifecycle\n",
    );
    // metadata.toml problems are generic failures (exit 1), as in the reference.
    let app = App::new().with_env("CNB_NO_COLOR", "true");
    let md = app.path("layers/config/metadata.toml");
    fs::write(&md, "[[processes]\n").expect("write");
    app.run("web", &[])
        .expect_code(1)
        .expect_output("ERROR: failed to read metadata: toml: line 1: ");
    fs::remove_file(&md).expect("rm");
    app.run("web", &[]).expect_code(1).expect_output(&format!(
        "ERROR: failed to read metadata: open {}: no such file or directory\n",
        md.display()
    ));
    for (api, message) in [
        (
            "0.6",
            "ERROR: failed to set API for buildpack 'bad': buildpack API version '0.6' is incompatible with the lifecycle\n",
        ),
        (
            "0.2wrongapiblabla",
            "ERROR: failed to parse buildpack API '<nil>' for buildpack 'bad'\n",
        ),
    ] {
        app.write(
            "layers/config/metadata.toml",
            &format!("[[buildpacks]]\nid = \"bad\"\nversion = \"1\"\napi = \"{api}\"\n"),
        );
        app.run("launcher", &["--", "true"])
            .expect_code(12)
            .expect_output(message);
    }
}

// ------------------------------------------------------------- rootfs without libc

/// Whether an ELF executable has no program interpreter (is statically linked).
fn is_static_elf(bytes: &[u8]) -> bool {
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    assert_eq!(&bytes[..4], b"\x7fELF", "not an ELF file");
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().expect("8 bytes")) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).all(|i| {
        let at = phoff + i * phentsize;
        u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) != 3
    })
}

/// The static launcher: `CNB_TEST_STATIC_LAUNCHER` (set by `scripts/test`, which builds
/// it once), else built here by `scripts/build-launcher`.
fn static_launcher() -> PathBuf {
    if let Some(path) = std::env::var_os("CNB_TEST_STATIC_LAUNCHER") {
        return PathBuf::from(path);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-launcher");
    let out = Command::new(script).output().expect("run build-launcher");
    assert!(
        out.status.success(),
        "build-launcher failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(text.lines().last().expect("path line"))
}

/// Copies `from` into the root file system at `to`, executable.
fn install(root: &Path, from: &Path, to: &str) {
    let dest = root.join(to.trim_start_matches('/'));
    fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
    fs::copy(from, &dest).expect("copy");
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn put(root: &Path, rel: &str, contents: &str, mode: u32) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(&p, contents).expect("write");
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn static_launcher_runs_in_a_root_fs_without_libc() {
    let busybox = Path::new("/bin/busybox");
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: chroot needs root");
        return;
    }
    assert!(
        busybox.exists(),
        "Debian's busybox-static is missing (scripts/test installs it)"
    );
    assert!(
        is_static_elf(&fs::read(busybox).expect("read busybox")),
        "/bin/busybox must be the static build (busybox-static)"
    );
    let launcher = static_launcher();
    assert!(is_static_elf(&fs::read(&launcher).expect("read launcher")));
    let size = fs::metadata(&launcher).expect("stat").len();
    assert!(size <= 1 << 20, "static launcher is {size} bytes");

    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    install(root, busybox, "/bin/busybox");
    for applet in [
        "sh", "echo", "env", "cat", "pwd", "basename", "dirname", "printf", "ls",
    ] {
        symlink("busybox", root.join("bin").join(applet)).expect("applet link");
    }
    install(root, &launcher, "/cnb/lifecycle/launcher");
    let bash = Path::new("/bin/bash-static");
    let with_bash = bash.exists();
    if with_bash {
        install(root, bash, "/bin/bash");
    }
    for t in ["web", "shell-web"] {
        fs::create_dir_all(root.join("cnb/process")).expect("mkdir");
        symlink("../lifecycle/launcher", root.join("cnb/process").join(t)).expect("link");
    }
    put(
        root,
        "layers/config/metadata.toml",
        r#"[[buildpacks]]
  id = "example/bp"
  version = "1"
  api = "0.9"

[[processes]]
  type = "web"
  command = ["sh", "-c", "echo \"web in $(pwd) with $GREETING and $FROM_EXEC_D\""]
  direct = true
  buildpack-id = "example/bp"

[[processes]]
  type = "shell-web"
  command = "echo"
  args = ["$GREETING", "$FROM_EXEC_D", "$FROM_PROFILE"]
  direct = false
  buildpack-id = "example/bp"
"#,
        0o644,
    );
    put(root, "layers/example_bp/layer/env/GREETING", "hello", 0o644);
    put(
        root,
        "layers/example_bp/layer/exec.d/set",
        "#!/bin/sh\nprintf 'FROM_EXEC_D = \"%s\"' \"exec.d-saw-$GREETING\" >&3\n",
        0o755,
    );
    put(
        root,
        "layers/example_bp/layer/profile.d/p.sh",
        "export FROM_PROFILE=profiled\n",
        0o644,
    );
    fs::create_dir_all(root.join("workspace")).expect("mkdir");
    // A container runtime provides /dev; an empty file serves as exec.d's stdin here.
    put(root, "dev/null", "", 0o666);
    let libc = walkdir::WalkDir::new(root).into_iter().flatten().find(|e| {
        let name = e.file_name().to_string_lossy();
        name.starts_with("libc") || name.starts_with("ld-") || name.starts_with("ld64")
    });
    assert!(
        libc.is_none(),
        "the root file system must hold no C library"
    );

    let chroot_bin = ["/usr/sbin/chroot", "/usr/bin/chroot"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chroot (coreutils)");
    let chroot = |entry: &str| {
        let mut cmd = Command::new(chroot_bin);
        cmd.arg(root)
            .arg(entry)
            .env_clear()
            .env("PATH", "/cnb/process:/cnb/lifecycle:/bin")
            .env("CNB_PLATFORM_API", LATEST)
            .env("CNB_NO_COLOR", "true");
        run(&mut cmd)
    };
    chroot("/cnb/process/web")
        .expect_code(0)
        .expect_output("web in /workspace with hello and exec.d-saw-hello\n");
    if with_bash {
        chroot("/cnb/process/shell-web")
            .expect_code(0)
            .expect_output("hello exec.d-saw-hello profiled\n");
    } else {
        eprintln!("shell process not checked: Debian's bash-static is not installed");
    }
}
