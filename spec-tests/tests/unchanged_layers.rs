//! Rebuilds where a buildpack leaves a restored launch + cache layer alone: the
//! exporter proves the layer unchanged from the file index the restorer recorded
//! (debug log), reuses the previous image's layer and the cached tar, and writes the
//! same image; a layer changed in place (same size and modification time) is hashed
//! again and gives another image. Driven as a platform drives the phases: detector,
//! analyzed.toml (written by hand, from the previous image's label), restorer with a
//! fresh layers directory, builder, exporter into an OCI layout with a volume cache.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use spec_tests::export::{Exported, read_image, static_launcher};
use spec_tests::{BUILD_GID, BUILD_UID, Bp, Build, Ran, images, lifecycle_dir, run};

const LATEST: &str = "0.15";
const ID: &str = "test/keeper:kept";
const PROVEN: &str = "Layer 'test/keeper:kept' proven unchanged";

/// A buildpack that makes its `kept` layer (launch + cache) only when the restorer did
/// not put it back, and changes one byte of it in place (size and modification time
/// kept) when the file `$MUTATE` exists.
fn keeper(mutate: &str) -> String {
    format!(
        r#"set -eo pipefail
layers="$1"
if [ -f "$layers/kept/data.bin" ]; then
  echo "kept layer restored"
  if [ -f "{mutate}" ]; then
    touch -r "$layers/kept/data.bin" "$layers/stamp"
    printf 'X' | dd of="$layers/kept/data.bin" bs=1 seek=1000 conv=notrunc status=none
    touch -r "$layers/stamp" "$layers/kept/data.bin"
    rm "$layers/stamp"
  fi
else
  mkdir -p "$layers/kept/sub"
  head -c 3000000 /dev/urandom > "$layers/kept/data.bin"
  seq 1 20000 > "$layers/kept/sub/text.txt"
  ln -s data.bin "$layers/kept/link"
fi
printf '[types]\nlaunch = true\ncache = true\n' > "$layers/kept.toml"
cat > "$layers/launch.toml" <<'EOF'
[[processes]]
type = "web"
command = ["/bin/echo", "hello"]
default = true
EOF
"#
    )
}

/// `phase` run in `b` with its environment, as the build user unless `as_root`, without
/// [`Build::phase`]'s chown of the whole tree: a platform does not touch the layers
/// between the phases (and a chown, even to the same owner, is a change of every file).
fn untouched_phase(b: &Build, phase: &str, args: &[&str], as_root: bool) -> Command {
    let mut cmd = Command::new(lifecycle_dir().join(phase));
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", b.path("home"))
        .env("CNB_PLATFORM_API", LATEST)
        .current_dir(b.path(""));
    if !as_root {
        cmd.uid(BUILD_UID).gid(BUILD_GID);
    }
    cmd
}

struct Rebuilds {
    exported: Exported,
    mutate: PathBuf,
}

impl Rebuilds {
    fn new() -> Rebuilds {
        let build = Build::new(LATEST);
        let mutate = build.path("mutate");
        build.buildpack(
            &Bp::new("test/keeper", "1.0.0", "0.10")
                .detect("exit 0")
                .build(&keeper(&mutate.display().to_string())),
        );
        build.order("[[order]]\n[[order.group]]\nid = \"test/keeper\"\nversion = \"1.0.0\"\n");
        build.write("workspace/app.txt", "app file\n");
        build.write(
            "cnb/run.toml",
            "[[images]]\nimage = \"example.com/run:latest\"\n",
        );
        fs::create_dir_all(build.path("cache")).unwrap();
        let run_image = images::run_image(&build.path("run-image"), &[]);
        Rebuilds {
            exported: Exported {
                build,
                run_image,
                platform_api: LATEST.into(),
            },
            mutate,
        }
    }

    fn build(&self) -> &Build {
        &self.exported.build
    }

    fn image_dir(&self) -> PathBuf {
        self.build()
            .path("layout-repo/index.docker.io/library/my-app/latest")
    }

    /// One build: a fresh layers directory (the previous one kept aside), detect,
    /// analyzed.toml, restore from the cache (on a rebuild), build, export. Returns the
    /// image digest and the exporter's output.
    fn run_build(&self, n: usize) -> (String, Ran) {
        let b = self.build();
        let layers = b.path("layers");
        if layers.exists() {
            fs::rename(&layers, b.path(&format!("layers-{n}"))).unwrap();
        }
        fs::create_dir(&layers).unwrap();
        let flags = b.dir_flags();
        let args: Vec<&str> = flags.iter().map(String::as_str).collect();
        let order = b.path("cnb/order.toml").display().to_string();
        let mut detect_args = args.clone();
        detect_args.extend(["-order", order.as_str()]);
        run(&mut b.phase("detector", &detect_args)).expect_code(0);

        let previous = (n > 1).then(|| {
            let dir = self.image_dir();
            let (digest, _, config) = read_image(&dir);
            (format!("{}@{digest}", dir.display()), config)
        });
        self.exported.analyze(
            &self.exported.run_image.identifier(),
            previous.as_ref().map(|(r, c)| (r.as_str(), c)),
        );
        let cache = b.path("cache").display().to_string();
        let (uid, gid) = (BUILD_UID.to_string(), BUILD_GID.to_string());
        let layers = layers.display().to_string();
        let restore_args = [
            "-layers",
            &layers,
            "-cache-dir",
            &cache,
            "-uid",
            &uid,
            "-gid",
            &gid,
        ];
        if n > 1 {
            let ran = run(&mut b.phase("restorer", &restore_args));
            ran.expect_code(0);
            assert!(
                b.path("layers/test_keeper/kept/data.bin").is_file(),
                "restored:\n{}",
                ran.all()
            );
        }
        run(&mut untouched_phase(b, "builder", &args, false)).expect_code(0);

        let layout = b.path("layout-repo").display().to_string();
        let launcher = static_launcher().display().to_string();
        let run_toml = b.path("cnb/run.toml").display().to_string();
        let app = b.path("workspace").display().to_string();
        let mut exporter = untouched_phase(
            b,
            "exporter",
            &[
                "-layers",
                &layers,
                "-app",
                &app,
                "-launcher",
                &launcher,
                "-uid",
                &uid,
                "-gid",
                &gid,
                "-run",
                &run_toml,
                "-layout",
                "-layout-dir",
                &layout,
                "-cache-dir",
                &cache,
                "-log-level",
                "debug",
                "my-app",
            ],
            true,
        );
        exporter.env("CNB_EXPERIMENTAL_MODE", "warn");
        let ran = run(&mut exporter);
        ran.expect_code(0);
        let (digest, _, _) = read_image(&self.image_dir());
        (digest, ran)
    }
}

#[test]
fn an_untouched_restored_layer_is_reused_without_hashing_and_a_changed_one_is_not() {
    let r = Rebuilds::new();
    let (first, ran) = r.run_build(1);
    ran.expect_output(&format!("Adding layer '{ID}'"))
        .expect_output(&format!("Adding cache layer '{ID}'"))
        .expect_no_output(PROVEN);

    // Restored and left alone: proven unchanged, both reused, the same image.
    let (second, ran) = r.run_build(2);
    ran.expect_output(PROVEN)
        .expect_output(&format!("Reusing layer '{ID}'"))
        .expect_output(&format!("Reusing cache layer '{ID}'"));
    assert_eq!(second, first, "the same image:\n{}", ran.all());

    // Restored, then one byte changed in place with its size and mtime kept.
    fs::write(&r.mutate, "").unwrap();
    let (third, ran) = r.run_build(3);
    ran.expect_no_output(PROVEN)
        .expect_output(&format!("Adding layer '{ID}'"))
        .expect_output(&format!("Adding cache layer '{ID}'"));
    assert_ne!(third, first, "{}", ran.all());
}
