//! What one buildpack's build produced besides its layers, read in the reference's
//! order: `build.toml` (legacy BOM, unmet plan entries), its SBOM files, `store.toml`
//! (only checked here; the exporter keeps it), then `launch.toml` (legacy BOM, labels,
//! processes, slices), each per the buildpack's API.

use std::path::Path;

use buildpack_api::api::ApiVersion;
use buildpack_api::bom::legacy_bom_warning;
use buildpack_api::build::BuildToml;
use buildpack_api::id::check_exportable_process_type;
use buildpack_api::launch::{self, LaunchToml};
use buildpack_api::plan::{BuildpackPlan, Require};
use buildpack_api::store::StoreToml;
use platform_api::files::metadata::{BomEntry, Label, Process, Slice};

use super::error::StepError;
use super::layers::BuildpackLayer;
use super::legacy_bom;
use super::sbom::{self, SbomFile};
use crate::log::Logger;

/// The buildpack being read: what its descriptor says.
pub(crate) struct Producer<'a> {
    /// Buildpack ID.
    pub id: &'a str,
    /// Buildpack version.
    pub version: &'a str,
    /// Buildpack API from its descriptor.
    pub api: ApiVersion,
    /// `sbom-formats`.
    pub sbom_formats: &'a [String],
}

/// One buildpack's results.
#[derive(Debug, Default)]
pub(crate) struct BuildpackOutputs {
    /// Legacy BOM from `build.toml`.
    pub build_bom: Vec<BomEntry>,
    /// Legacy BOM from `launch.toml`.
    pub launch_bom: Vec<BomEntry>,
    /// Names of the plan entries the buildpack met.
    pub met_requires: Vec<String>,
    /// SBOM files to copy.
    pub sbom_files: Vec<SbomFile>,
    /// Image labels.
    pub labels: Vec<Label>,
    /// Processes, tagged with the buildpack.
    pub processes: Vec<Process>,
    /// App slices.
    pub slices: Vec<Slice>,
}

/// Reads the output files in `bp_dir` (the buildpack's `<layers>/<bp>`), given the plan
/// it received and its layers.
pub(crate) fn read(
    bp_dir: &Path,
    layers_root: &Path,
    producer: &Producer<'_>,
    plan: &BuildpackPlan,
    layers: &[BuildpackLayer],
    logger: &Logger,
) -> Result<BuildpackOutputs, StepError> {
    let has_sbom_files = sbom::has_sbom_files(bp_dir)?;
    let warn_legacy = |entries: &[Require]| {
        if let Some(w) = legacy_bom_warning(entries, has_sbom_files) {
            logger.warn(w);
        }
    };

    let build = BuildToml::read(&bp_dir.join("build.toml"))?;
    build.validate(plan)?;
    warn_legacy(&build.bom);
    let mut out = BuildpackOutputs {
        met_requires: build.met_requires(plan),
        build_bom: legacy_bom::tag(build.bom, producer.id, producer.version),
        sbom_files: sbom::collect(
            bp_dir,
            layers_root,
            (producer.id, producer.version),
            producer.sbom_formats,
            layers,
        )?,
        ..BuildpackOutputs::default()
    };
    StoreToml::read(&bp_dir.join("store.toml"))?;

    let Some((launch, warnings)) = LaunchToml::read(&bp_dir.join("launch.toml"), producer.api)?
    else {
        return Ok(out);
    };
    warn_legacy(&launch.bom);
    for warning in warnings {
        logger.warn(warning);
    }
    out.launch_bom = legacy_bom::tag(launch.bom, producer.id, producer.version);
    out.labels = launch
        .labels
        .into_iter()
        .map(|l| Label {
            key: l.key,
            value: l.value,
        })
        .collect();
    out.processes = launch
        .processes
        .into_iter()
        .map(|p| to_metadata_process(p, producer.id))
        .collect::<Result<_, _>>()?;
    out.slices = launch
        .slices
        .into_iter()
        .map(|s| Slice { paths: s.paths })
        .collect();
    Ok(out)
}

/// A `launch.toml` process as `metadata.toml` records it, refusing types the exporter
/// could not turn into a process.
fn to_metadata_process(p: launch::Process, buildpack_id: &str) -> Result<Process, StepError> {
    check_exportable_process_type(&p.process_type).map_err(|source| StepError::ProcessType {
        buildpack: buildpack_id.to_string(),
        source,
    })?;
    Ok(Process {
        process_type: p.process_type,
        command: p.command,
        args: p.args,
        direct: p.direct,
        default: p.default,
        buildpack_id: buildpack_id.to_string(),
        working_dir: p.working_dir,
        exec_env: p.exec_env,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Level;
    use std::fs;

    fn producer(api: ApiVersion) -> Producer<'static> {
        Producer {
            id: "A",
            version: "v1",
            api,
            sbom_formats: &[],
        }
    }

    fn plan(names: &[&str]) -> BuildpackPlan {
        BuildpackPlan {
            entries: names
                .iter()
                .map(|n| Require {
                    name: n.to_string(),
                    ..Require::default()
                })
                .collect(),
        }
    }

    fn read_in(dir: &Path, api: ApiVersion, names: &[&str]) -> Result<BuildpackOutputs, StepError> {
        read(
            dir,
            dir,
            &producer(api),
            &plan(names),
            &[],
            &Logger::new(Level::Error),
        )
    }

    #[test]
    fn nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = read_in(dir.path(), ApiVersion::new(0, 12), &["a", "b"]).unwrap();
        assert_eq!(out.met_requires, ["a", "b"]);
        assert!(out.processes.is_empty() && out.launch_bom.is_empty());
    }

    #[test]
    fn launch_and_build_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("build.toml"),
            "[[unmet]]\nname = \"b\"\n[[bom]]\nname = \"gcc\"\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("launch.toml"),
            r#"
[[labels]]
key = "k"
value = "v"
[[processes]]
type = "web"
command = "run"
default = true
[[slices]]
paths = ["a/*"]
[[bom]]
name = "ruby"
"#,
        )
        .unwrap();
        let out = read_in(dir.path(), ApiVersion::new(0, 7), &["a", "b"]).unwrap();
        assert_eq!(out.met_requires, ["a"]);
        assert_eq!(out.build_bom[0].buildpack.id, "A");
        assert_eq!(out.launch_bom[0].name, "ruby");
        assert_eq!(out.labels[0].value, "v");
        assert_eq!(out.slices[0].paths, ["a/*"]);
        let web = &out.processes[0];
        assert_eq!(web.command, ["run"]);
        assert!(web.default && !web.direct);
        assert_eq!(web.buildpack_id, "A");
    }

    #[test]
    fn refusals() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("build.toml"), "[[unmet]]\nname = \"zz\"\n").unwrap();
        let err = read_in(dir.path(), ApiVersion::new(0, 12), &["a"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unmet.name 'zz' must match a requested dependency"
        );
        fs::remove_file(dir.path().join("build.toml")).unwrap();

        fs::write(dir.path().join("store.toml"), "metadata = 1\n").unwrap();
        assert!(matches!(
            read_in(dir.path(), ApiVersion::new(0, 12), &[]),
            Err(StepError::Store(_))
        ));
        fs::remove_file(dir.path().join("store.toml")).unwrap();

        for (text, bad) in [
            (
                "[[processes]]\ntype = \"../../x\"\ncommand = [\"a\"]\n",
                true,
            ),
            ("[[processes]]\ntype = \"\"\ncommand = [\"a\"]\n", true),
            (
                "[[processes]]\ntype = \"my web\"\ncommand = [\"a\"]\n",
                false,
            ),
        ] {
            fs::write(dir.path().join("launch.toml"), text).unwrap();
            let result = read_in(dir.path(), ApiVersion::new(0, 12), &[]);
            assert_eq!(
                matches!(result, Err(StepError::ProcessType { .. })),
                bad,
                "{text}"
            );
        }
        fs::write(dir.path().join("launch.toml"), "[[processes]\n").unwrap();
        assert!(matches!(
            read_in(dir.path(), ApiVersion::new(0, 12), &[]),
            Err(StepError::Launch(_))
        ));
    }
}
