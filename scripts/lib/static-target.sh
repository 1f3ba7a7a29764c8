# The target for binaries that must run in images without a libc (the launcher, the
# libcnb test buildpacks' exec.d programs). Source it, then call static_target: it sets
# STATIC_TARGET to the host's musl target (added with rustup when missing), or else to
# the host target and exports RUSTFLAGS asking for a static C runtime.
static_target() {
  local host musl
  host=$(rustc -vV | sed -n 's/^host: //p')
  musl=${host%%-*}-unknown-linux-musl
  # (the list is read whole first: `grep -q` closing the pipe early would fail the
  # pipeline under pipefail)
  musl_installed() { [[ $'\n'"$(rustup target list --installed 2>/dev/null)"$'\n' == *$'\n'"$musl"$'\n'* ]]; }
  musl_installed || rustup target add "$musl" >/dev/null 2>&1 || true
  if musl_installed; then
    STATIC_TARGET=$musl
  else
    echo "${0##*/}: musl target not installed; static glibc build (larger)" >&2
    STATIC_TARGET=$host
    export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static"
  fi
}

# The workspace's target directory.
target_dir() {
  cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'
}
