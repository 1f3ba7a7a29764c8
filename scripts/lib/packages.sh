# Debian packages the scripts need, installed idempotently when running as root.

# Tools the test suite drives (bash buildpacks run under /usr/bin/env bash).
# busybox-static and bash-static: the launcher's run in a root file system without libc,
#   and the test run image.
# docker-registry, apache2-utils (htpasswd), openssl: registries with and without auth.
# docker.io: dockerd for daemon exports. skopeo, umoci, oci-image-tool, jq: checking
#   the images we write. golang-go: Go's archive/tar, to compare layer bytes with.
# strace: killing the cache commit at every step. tar, gzip: test images.
# bubblewrap: phases in a container's view of the file system, as platforms run them.
TEST_PACKAGES=(bash coreutils busybox-static bash-static tar gzip docker-registry apache2-utils bubblewrap
  openssl docker.io runc skopeo umoci oci-image-tool jq golang-go strace)
# What scripts/example needs: the run image's binaries, runc and umoci to run the image
# from a layout, skopeo, docker-registry and docker.io for the registry and daemon modes.
EXAMPLE_PACKAGES=(bash coreutils busybox-static bash-static tar gzip jq umoci runc skopeo
  docker-registry docker.io)
# Tools the benchmark compares against.
# hyperfine: the launcher's start-up overhead.
# pigz: the export's limit (tar | pigz | sha256sum). time: peak memory.
BENCH_PACKAGES=(bash coreutils hyperfine pigz time docker-registry skopeo busybox-static bash-static)

# ensure_packages PKG...: installs the missing ones with apt-get (root only).
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: ${missing[*]} (run as root to install them)" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
