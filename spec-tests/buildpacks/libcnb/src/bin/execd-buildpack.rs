//! `libcnb-test/execd`: says what the build environment from earlier buildpacks' build
//! layers holds, and adds a launch layer `execd` whose exec.d program is this package's
//! `execd-greeting` binary.

use libcnb::additional_buildpack_binary_path;
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::layer_name;
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::layer::UncachedLayerDefinition;
use libcnb::{Buildpack, buildpack_main};
use libcnb_test_buildpacks::TestBuildpackError;

struct ExecDBuildpack;

impl Buildpack for ExecDBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = TestBuildpackError;

    fn detect(&self, _context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        DetectResultBuilder::pass().build()
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        let seen = |name: &str| std::env::var(name).unwrap_or_else(|_| "unset".to_string());
        println!(
            "libcnb-test/execd: build env RUNTIME_HOME={} RUNTIME_BUILD_ONLY={} APP_MODE={}",
            seen("RUNTIME_HOME"),
            seen("RUNTIME_BUILD_ONLY"),
            seen("APP_MODE")
        );
        let layer = context.uncached_layer(
            layer_name!("execd"),
            UncachedLayerDefinition {
                build: false,
                launch: true,
            },
        )?;
        layer.write_exec_d_programs([(
            "greeting",
            additional_buildpack_binary_path!("execd-greeting"),
        )])?;
        BuildResultBuilder::new().build()
    }
}

buildpack_main!(ExecDBuildpack);
