//! The hostile-input corpus (`spec-tests/corpus/*.toml`): malformed and hostile files,
//! labels, manifests, cache metadata and layer tars, each placed where a phase reads it
//! in a fresh build tree, then the real binary run on it.
//!
//! Every manifest describes one group of cases: the phase, its Platform API, flags and
//! environment, the files every case starts from, and which directories of the tree the
//! phase may write. A case adds or replaces files (`files`, `scripts`), removes some,
//! generates tars (`tar`, written deterministically from a list of entries, hostile
//! headers included) and OCI layouts (`image`), and states the exit code and a piece of
//! the message it expects. The runner asserts those, that nothing panicked and no signal
//! ended the process, and that nothing changed in the tree outside the writable
//! directories (the tree, `outside/` with its sentinel included, is compared file by file
//! before and after).
//!
//! Placeholders in file contents, flags and environment: `{repeat:<n>:<unit>:}` (`unit`
//! written `n` times), `{root}` (the build root),
//! `{layers}`, `{sha:<tar>}` (the `sha256:<hex>` of generated tar `<tar>`, uncompressed)
//! and `{hex:<tar>}` (its hex digest).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use sha2::{Digest, Sha256};
use spec_tests::{BUILD_GID, BUILD_UID, Build, lifecycle_dir, run};
use toml::Value;

/// Cases the corpus must hold at least.
const MIN_CASES: usize = 150;

/// Concurrent cases.
const WORKERS: usize = 4;

/// The corpus directory.
fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// One case, merged with its group's defaults.
struct Case {
    /// `<manifest>/<name>`.
    id: String,
    phase: String,
    platform_api: String,
    as_root: bool,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    writable: Vec<String>,
    files: BTreeMap<String, String>,
    scripts: BTreeMap<String, String>,
    symlinks: BTreeMap<String, String>,
    remove: Vec<String>,
    tars: Vec<Value>,
    images: Vec<Value>,
    code: i32,
    message: String,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().expect("string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn table(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_table)
        .map(|t| {
            t.iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn tables(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).cloned().unwrap_or_default()
}

/// Every case of every manifest.
fn load_cases() -> Vec<Case> {
    let mut manifests: Vec<PathBuf> = fs::read_dir(corpus_dir())
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    manifests.sort();
    let mut cases = Vec::new();
    for path in manifests {
        let text = fs::read_to_string(&path).expect("manifest");
        let group: Value =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let group_name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let g = |k: &str| group.get(k);
        for case in tables(g("case")) {
            let c = |k: &str| case.get(k);
            let pick = |k: &str| c(k).or_else(|| g(k));
            let mut files = table(g("files"));
            files.extend(table(c("files")));
            let mut scripts = table(g("scripts"));
            scripts.extend(table(c("scripts")));
            let mut symlinks = table(g("symlinks"));
            symlinks.extend(table(c("symlinks")));
            let mut env = table(g("env"));
            env.extend(table(c("env")));
            let mut tars = tables(g("tar"));
            tars.extend(tables(c("tar")));
            let mut images = tables(g("image"));
            images.extend(tables(c("image")));
            let mut args = strings(g("args"));
            args.extend(strings(c("args")));
            if let Some(replace) = c("replace_args") {
                args = strings(Some(replace));
            }
            let mut writable = strings(g("writable"));
            writable.extend(strings(c("writable")));
            let name = c("name").and_then(Value::as_str).expect("case name");
            cases.push(Case {
                id: format!("{group_name}/{name}"),
                phase: pick("phase").and_then(Value::as_str).expect("phase").into(),
                platform_api: pick("platform_api")
                    .and_then(Value::as_str)
                    .expect("platform_api")
                    .into(),
                as_root: pick("as_root").and_then(Value::as_bool).unwrap_or(false),
                args,
                env,
                writable,
                files,
                scripts,
                symlinks,
                remove: strings(c("remove")),
                tars,
                images,
                code: c("code")
                    .and_then(Value::as_integer)
                    .unwrap_or_else(|| panic!("{group_name}/{name}: no code"))
                    as i32,
                message: c("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
            });
        }
    }
    cases
}

/// Values substituted for placeholders.
struct Vars {
    root: String,
    shas: BTreeMap<String, String>,
}

/// Expands `{repeat:<n>:<unit>:}` into `unit` written `n` times (huge and deeply nested
/// inputs are kept short in the manifests this way).
fn expand_repeats(text: &str) -> String {
    const OPEN: &str = "{repeat:";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        out.push_str(&rest[..at]);
        let after = &rest[at + OPEN.len()..];
        let (count, tail) = after.split_once(':').expect("{repeat:<n>:<unit>:}");
        let end = tail.find(":}").expect("{repeat:<n>:<unit>:} is closed");
        let count: usize = count.parse().expect("a repeat count");
        out.push_str(&tail[..end].repeat(count));
        rest = &tail[end + 2..];
    }
    out.push_str(rest);
    out
}

impl Vars {
    fn apply(&self, text: &str) -> String {
        let mut out = expand_repeats(text)
            .replace("{layers}", &format!("{}/layers", self.root))
            .replace("{root}", &self.root);
        for (id, hex) in &self.shas {
            out = out
                .replace(&format!("{{sha:{id}}}"), &format!("sha256:{hex}"))
                .replace(&format!("{{hex:{id}}}"), hex);
        }
        out
    }
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An octal header field of `len` bytes (digits, then NUL).
fn octal(field: &mut [u8], value: u64) {
    let digits = format!("{value:0width$o}", width = field.len() - 1);
    let digits = digits.as_bytes();
    let n = digits.len().min(field.len() - 1);
    field[..n].copy_from_slice(&digits[digits.len() - n..]);
    field[field.len() - 1] = 0;
}

/// One 512-byte ustar header.
fn header(name: &[u8], typeflag: u8, size: u64, entry: &Value, vars: &Vars) -> [u8; 512] {
    let mut h = [0u8; 512];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    let mode = entry
        .get("mode")
        .and_then(Value::as_integer)
        .unwrap_or(if typeflag == b'5' { 0o755 } else { 0o644 });
    octal(&mut h[100..108], mode as u64);
    octal(&mut h[108..116], BUILD_UID as u64);
    octal(&mut h[116..124], BUILD_GID as u64);
    octal(&mut h[124..136], size);
    if let Some(raw) = entry.get("raw_size").and_then(Value::as_str) {
        h[124..136].fill(0);
        let raw = raw.as_bytes();
        h[124..124 + raw.len().min(12)].copy_from_slice(&raw[..raw.len().min(12)]);
    }
    octal(&mut h[136..148], 315_532_800);
    h[156] = typeflag;
    if let Some(link) = entry.get("link").and_then(Value::as_str) {
        let link = vars.apply(link);
        let l = link.len().min(100);
        h[157..157 + l].copy_from_slice(&link.as_bytes()[..l]);
    }
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    if typeflag == b'3' || typeflag == b'4' {
        octal(&mut h[329..337], 1);
        octal(&mut h[337..345], 3);
    }
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    octal(&mut h[148..155], sum);
    h[155] = b' ';
    if entry.get("bad_checksum").and_then(Value::as_bool) == Some(true) {
        h[148..156].copy_from_slice(b"0000000\0");
    }
    h
}

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// A tar built from the case's entry list (names and link targets have placeholders
/// applied; long names and `pax` records go in a PAX extended header).
fn make_tar(spec: &Value, vars: &Vars) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in tables(spec.get("entries")) {
        let name = vars.apply(
            entry
                .get("name")
                .and_then(Value::as_str)
                .expect("entry name"),
        );
        let kind = entry.get("kind").and_then(Value::as_str).unwrap_or("file");
        let typeflag = match kind {
            "file" => b'0',
            "hardlink" => b'1',
            "symlink" => b'2',
            "char" => b'3',
            "block" => b'4',
            "dir" => b'5',
            "fifo" => b'6',
            "gnu-longname" => b'L',
            other => other.as_bytes()[0],
        };
        let data: Vec<u8> = match entry.get("repeat").and_then(Value::as_integer) {
            Some(n) => entry
                .get("data")
                .and_then(Value::as_str)
                .unwrap_or("x")
                .repeat(n as usize)
                .into_bytes(),
            None => vars
                .apply(entry.get("data").and_then(Value::as_str).unwrap_or(""))
                .into_bytes(),
        };
        let mut pax: Vec<(String, String)> = entry
            .get("pax")
            .and_then(Value::as_table)
            .map(|t| {
                t.iter()
                    .map(|(k, v)| (k.clone(), vars.apply(v.as_str().expect("pax value"))))
                    .collect()
            })
            .unwrap_or_default();
        if name.len() > 100 && !pax.iter().any(|(k, _)| k == "path") {
            pax.push(("path".into(), name.clone()));
        }
        let raw_pax = entry.get("raw_pax").and_then(Value::as_str);
        if !pax.is_empty() || raw_pax.is_some() {
            let mut records = raw_pax.map(str::to_string).unwrap_or_default().into_bytes();
            for (k, v) in &pax {
                let body = format!(" {k}={v}\n");
                let mut len = body.len() + 1;
                while format!("{len}").len() + body.len() != len {
                    len = format!("{len}").len() + body.len();
                }
                records.extend_from_slice(format!("{len}{body}").as_bytes());
            }
            let x = Value::Table(Default::default());
            out.extend_from_slice(&header(
                b"PaxHeaders/x",
                b'x',
                records.len() as u64,
                &x,
                vars,
            ));
            out.extend_from_slice(&records);
            pad(&mut out);
        }
        let size = entry
            .get("size")
            .and_then(Value::as_integer)
            .map_or(data.len() as u64, |s| s as u64);
        out.extend_from_slice(&header(name.as_bytes(), typeflag, size, &entry, vars));
        out.extend_from_slice(&data);
        pad(&mut out);
    }
    if spec.get("no_end").and_then(Value::as_bool) != Some(true) {
        out.extend_from_slice(&[0u8; 1024]);
    }
    if let Some(n) = spec.get("truncate").and_then(Value::as_integer) {
        out.truncate(n as usize);
    }
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("gzip")
        .args(["-n", "-1", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip");
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("gzip output");
    writer.join().unwrap().expect("gzip input");
    assert!(out.status.success());
    out.stdout
}

/// Writes `bytes` as a blob of the layout at `dir`; returns its digest and size.
fn blob(dir: &Path, bytes: &[u8]) -> (String, usize) {
    let hex = hex(bytes);
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    fs::write(dir.join("blobs/sha256").join(&hex), bytes).unwrap();
    (format!("sha256:{hex}"), bytes.len())
}

/// An OCI layout with one image: layers are generated tars (gzipped), the config and,
/// when given, the manifest and index are the case's text (placeholders `{config}`,
/// `{config_size}`, `{manifest}`, `{manifest_size}` and the diff IDs).
fn make_image(spec: &Value, tars: &BTreeMap<String, Vec<u8>>, vars: &Vars, root: &Path) {
    let dir = root.join(spec.get("dir").and_then(Value::as_str).expect("image dir"));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut layers = Vec::new();
    for id in strings(spec.get("layers")) {
        let (digest, size) = blob(&dir, &gzip(&tars[&id]));
        layers.push(format!(
            r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{digest}","size":{size}}}"#
        ));
    }
    let config = vars.apply(spec.get("config").and_then(Value::as_str).expect("config"));
    let (config_digest, config_size) = blob(&dir, config.as_bytes());
    let manifest = match spec.get("manifest").and_then(Value::as_str) {
        Some(text) => vars
            .apply(text)
            .replace("{config}", &config_digest)
            .replace("{config_size}", &config_size.to_string()),
        None => format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{config_size}}},"layers":[{}]}}"#,
            layers.join(",")
        ),
    };
    let (manifest_digest, manifest_size) = blob(&dir, manifest.as_bytes());
    let index = match spec.get("index").and_then(Value::as_str) {
        Some(text) => vars
            .apply(text)
            .replace("{manifest}", &manifest_digest)
            .replace("{manifest_size}", &manifest_size.to_string()),
        None => format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{manifest_size}}}]}}"#
        ),
    };
    fs::write(dir.join("index.json"), index).unwrap();
}

/// What a path is, for comparing trees.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    Dir(u32),
    File(u32, String),
    Link(PathBuf),
    Other(u32),
}

/// Every path under `root` (symlinks not followed) and what it is.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut nodes = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).into_iter().flatten() {
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(path) else {
            continue;
        };
        let mode = meta.mode() & 0o7777;
        let node = if meta.file_type().is_symlink() {
            Node::Link(fs::read_link(path).unwrap_or_default())
        } else if meta.is_dir() {
            Node::Dir(mode)
        } else if meta.is_file() {
            Node::File(mode, fs::read(path).map(|b| hex(&b)).unwrap_or_default())
        } else {
            Node::Other(mode)
        };
        let rel = path.strip_prefix(root).unwrap().to_path_buf();
        nodes.insert(rel, node);
    }
    nodes
}

/// Paths that differ between two snapshots and lie outside every writable directory.
fn forbidden_changes(
    before: &BTreeMap<PathBuf, Node>,
    after: &BTreeMap<PathBuf, Node>,
    writable: &[String],
) -> Vec<String> {
    let allowed = |p: &Path| writable.iter().any(|w| p.starts_with(w));
    let mut bad = Vec::new();
    for (path, node) in before {
        if allowed(path) {
            continue;
        }
        match after.get(path) {
            None => bad.push(format!("removed {}", path.display())),
            Some(n) if n != node => {
                bad.push(format!("changed {}: {node:?} -> {n:?}", path.display()))
            }
            Some(_) => {}
        }
    }
    for path in after.keys() {
        if !allowed(path) && !before.contains_key(path) {
            bad.push(format!("created {}", path.display()));
        }
    }
    bad
}

/// Lays out the case's tree; returns the build.
fn prepare(case: &Case) -> Build {
    let build = Build::new(&case.platform_api);
    let root = build.path("");
    let mut vars = Vars {
        root: root.display().to_string().trim_end_matches('/').to_string(),
        shas: BTreeMap::new(),
    };
    let mut tars = BTreeMap::new();
    for spec in &case.tars {
        let bytes = make_tar(spec, &vars);
        let id = spec
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("t")
            .to_string();
        vars.shas.insert(id.clone(), hex(&bytes));
        tars.insert(id, bytes);
    }
    for spec in &case.tars {
        let id = spec.get("id").and_then(Value::as_str).unwrap_or("t");
        if let Some(path) = spec.get("path").and_then(Value::as_str) {
            let path = root.join(vars.apply(path));
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, &tars[id]).unwrap();
        }
    }
    for spec in &case.images {
        make_image(spec, &tars, &vars, &root);
    }
    for (rel, text) in &case.files {
        build.write(&vars.apply(rel), &vars.apply(text));
    }
    for (rel, body) in &case.scripts {
        build.write_script(&vars.apply(rel), &vars.apply(body));
    }
    for (rel, target) in &case.symlinks {
        let link = root.join(vars.apply(rel));
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        // A link replaces a file of the group's tree at its path.
        if let Ok(meta) = fs::symlink_metadata(&link) {
            if meta.is_dir() {
                fs::remove_dir_all(&link).unwrap();
            } else {
                fs::remove_file(&link).unwrap();
            }
        }
        symlink(vars.apply(target), link).unwrap();
    }
    for rel in &case.remove {
        let p = root.join(rel);
        if p.is_dir() {
            fs::remove_dir_all(p).unwrap();
        } else {
            fs::remove_file(p).unwrap();
        }
    }
    fs::create_dir_all(root.join("outside")).unwrap();
    fs::write(root.join("outside/sentinel"), "untouched\n").unwrap();
    fs::create_dir_all(root.join("tmp")).unwrap();
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    build
}

/// Runs one case; returns what went wrong.
fn run_case(case: &Case) -> Result<(), String> {
    let build = prepare(case);
    let root = build.path("");
    let vars = Vars {
        root: root.display().to_string().trim_end_matches('/').to_string(),
        shas: BTreeMap::new(),
    };
    let args: Vec<String> = case.args.iter().map(|a| vars.apply(a)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    build.chown();
    let before = snapshot(&root);
    let mut cmd = if case.phase == "launcher" {
        let mut cmd = build.phase_as_root("launcher", &args);
        cmd.env("CNB_LAYERS_DIR", build.path("layers"))
            .env("CNB_APP_DIR", build.path("workspace"));
        if !case.as_root {
            std::os::unix::process::CommandExt::uid(&mut cmd, BUILD_UID);
            std::os::unix::process::CommandExt::gid(&mut cmd, BUILD_GID);
        }
        cmd
    } else if case.as_root {
        build.phase_as_root(&case.phase, &args)
    } else {
        build.phase(&case.phase, &args)
    };
    cmd.env("TMPDIR", build.path("tmp"));
    for (k, v) in &case.env {
        cmd.env(k, vars.apply(v));
    }
    let ran = run(&mut cmd);
    let after = snapshot(&root);
    let mut problems = Vec::new();
    if ran.all().contains("panicked at") || ran.code == 101 {
        problems.push("panicked".to_string());
    }
    if ran.code < 0 {
        problems.push("ended by a signal".to_string());
    }
    if ran.code != case.code {
        problems.push(format!("exit code {} (expected {})", ran.code, case.code));
    }
    if !ran.all().contains(&vars.apply(&case.message)) {
        problems.push(format!("output lacks {:?}", case.message));
    }
    let mut writable = case.writable.clone();
    writable.push("tmp".into());
    problems.extend(forbidden_changes(&before, &after, &writable));
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}: {}\n--- stdout\n{}\n--- stderr\n{}",
        case.id,
        problems.join("; "),
        ran.stdout,
        ran.stderr
    ))
}

#[test]
fn every_hostile_input_is_refused_cleanly() {
    let cases = load_cases();
    let filter = std::env::var("CNB_CORPUS_FILTER").unwrap_or_default();
    // A filtered run (one group while writing it) runs whatever the corpus holds.
    assert!(
        !filter.is_empty() || cases.len() >= MIN_CASES,
        "the corpus has {} cases, fewer than {MIN_CASES}",
        cases.len()
    );
    let mut ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), cases.len(), "case names are unique per manifest");
    lifecycle_dir();
    let started = Instant::now();
    let next = Mutex::new(cases.iter().filter(|c| c.id.contains(&filter)));
    let failures = Mutex::new(Vec::new());
    let ran = Mutex::new(0usize);
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                loop {
                    let Some(case) = next.lock().unwrap().next() else {
                        return;
                    };
                    let result = run_case(case);
                    *ran.lock().unwrap() += 1;
                    if let Err(failure) = result {
                        failures.lock().unwrap().push(failure);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    spec_tests::figures(&format!(
        "hostile corpus: {} cases run in {:.1?}, {} failed",
        ran.into_inner().unwrap(),
        started.elapsed(),
        failures.len()
    ));
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
