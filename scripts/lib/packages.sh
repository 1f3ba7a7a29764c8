# Debian packages the scripts need, installed idempotently when running as root.

# Tools the test suite drives (bash buildpacks run under /usr/bin/env bash).
# busybox-static and bash-static: the launcher's run in a root file system without libc.
TEST_PACKAGES=(bash coreutils busybox-static bash-static)
# Tools the benchmark compares against.
# hyperfine: the launcher's start-up overhead.
BENCH_PACKAGES=(bash coreutils hyperfine)

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
