# bench_rebase LIFECYCLE_BIN WORK_DIR: how many layer bytes a registry rebase moves.
#
# Starts a loopback docker-registry with `registry-meter` (spec-tests/src/bin) in front
# of it, exports a 64 MiB app image onto run image A through the meter, pushes A' (A
# plus one layer) under the same name, rebases the app onto it, and prints
#   rebase_layer_bytes: N (... target 0)
# where N counts the layer blob bytes (uploads and downloads, image configs excluded)
# that crossed the meter during the rebase. Uses make_run_image (scripts/lib/run-image.sh),
# python3, skopeo, curl; builds the meter with cargo when REGISTRY_METER is unset. Runs in
# a subshell: its processes are stopped and its files removed whatever happens.
bench_rebase() (
  set -euo pipefail
  local bin=$1 work=$2/rebase root meter_pid="" meter host man
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  declare -F make_run_image >/dev/null || . "$root/scripts/lib/run-image.sh"
  declare -F start_registry >/dev/null || . "$root/scripts/lib/services.sh"
  meter=${REGISTRY_METER:-}
  if [ -z "$meter" ]; then
    (cd "$root" && cargo build --release -q -p spec-tests --bin registry-meter)
    meter=$root/target/release/registry-meter
  fi
  cleanup() {
    [ -n "$meter_pid" ] && kill "$meter_pid" 2>/dev/null || true
    stop_services
    wait 2>/dev/null || true
    rm -rf "$work"
  }
  trap cleanup EXIT
  mkdir -p "$work/app" "$work/layers/config"
  chmod 755 "$work"

  # Run image A and A' (A plus a layer holding /etc/run-image-version).
  man=$(make_run_image "$work/run-a" | sed 's/.*@sha256://')
  cp -a "$work/run-a" "$work/run-b"
  mkdir -p "$work/extra/etc"
  echo 2 > "$work/extra/etc/run-image-version"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/extra" -cf "$work/extra.tar" etc
  python3 - "$work/run-b" "$work/extra.tar" <<'PY'
import gzip, hashlib, json, os, sys
layout, tar = sys.argv[1], sys.argv[2]
def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(f"{layout}/blobs/sha256/{d}", "wb") as f:
        f.write(data)
    return "sha256:" + d
def get(digest):
    with open(f"{layout}/blobs/sha256/{digest.split(':')[1]}", "rb") as f:
        return json.load(f)
raw = open(tar, "rb").read()
gz = gzip.compress(raw, compresslevel=1, mtime=0)
index = json.load(open(f"{layout}/index.json"))
manifest = get(index["manifests"][0]["digest"])
config = get(manifest["config"]["digest"])
config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(raw).hexdigest())
config_bytes = json.dumps(config).encode()
manifest["config"].update(digest=put(config_bytes), size=len(config_bytes))
manifest["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                           "digest": put(gz), "size": len(gz)})
manifest_bytes = json.dumps(manifest).encode()
index["manifests"][0].update(digest=put(manifest_bytes), size=len(manifest_bytes))
json.dump(index, open(f"{layout}/index.json", "w"))
PY

  # The app: 64 MiB in 64 files, half compressible.
  for i in $(seq 0 63); do
    if [ $((i % 2)) = 0 ]; then
      { yes "app line $i" || true; } | head -c 1048576 > "$work/app/f$i"
    else
      head -c 1048576 /dev/urandom > "$work/app/f$i"
    fi
  done
  : > "$work/layers/group.toml"
  : > "$work/layers/config/metadata.toml"

  # The registry, and the meter in front of it.
  start_registry "$work/registry"
  "$meter" --upstream "$REGISTRY_HOST" > "$work/meter.out" &
  meter_pid=$!
  until grep -q '^listening: ' "$work/meter.out" 2>/dev/null; do sleep 0.05; done
  host=$(sed -n 's/^listening: //p' "$work/meter.out")
  # meter_line N: waits for the N-th count line of the meter and prints its layer bytes.
  meter_line() {
    until [ "$(grep -c '^layer_bytes: ' "$work/meter.out")" -ge "$1" ]; do sleep 0.05; done
    grep '^layer_bytes: ' "$work/meter.out" | sed -n "$1p"
  }

  skopeo copy -q --dest-tls-verify=false "oci:$work/run-a:latest" "docker://$host/run:latest"
  printf '[[images]]\nimage = "%s/run:latest"\n' "$host" > "$work/run.toml"
  printf '[run-image]\n  reference = "%s/run@sha256:%s"\n  image = "%s/run:latest"\n' \
    "$host" "$man" "$host" > "$work/layers/analyzed.toml"
  local lifecycle_env=(env -i PATH=/usr/bin:/bin HOME="$work" CNB_PLATFORM_API=0.15)
  "${lifecycle_env[@]}" "$bin" export -log-level warn -layers "$work/layers" -app "$work/app" \
    -launcher "${LAUNCHER:-$bin}" -uid 0 -gid 0 -run "$work/run.toml" "$host/app:latest" >/dev/null
  skopeo copy -q --dest-tls-verify=false "oci:$work/run-b:latest" "docker://$host/run:latest"

  kill -USR1 "$meter_pid"
  meter_line 1 >/dev/null
  "${lifecycle_env[@]}" "$bin" rebase -log-level warn -uid 0 -gid 0 \
    -report "$work/report.toml" "$host/app:latest" >/dev/null
  kill -USR1 "$meter_pid"
  meter_line 2 | awk '{ printf "rebase_layer_bytes: %d (layer blob bytes through the registry during the rebase; image config bytes %d; target 0)\n", $2, $4 }'
  grep -q '^  digest = \|^digest = ' "$work/report.toml" || { echo "rebase wrote no digest" >&2; exit 1; }
)
