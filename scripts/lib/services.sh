# Services the example and the benchmark start for themselves, stopped by stop_services
# (call it from an EXIT trap): a Distribution registry and a Docker daemon, both on
# loopback / a private socket, with their state in a directory the caller gives.

SERVICE_PIDS=()

# start_registry DIR: docker-registry on 127.0.0.1 with a kernel-chosen port, storage in
# DIR; sets REGISTRY_HOST to 127.0.0.1:<port>.
start_registry() {
  local dir=$1
  mkdir -p "$dir"
  cat > "$dir/config.yml" <<YAML
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: 127.0.0.1:0
  secret: example-only-secret
YAML
  docker-registry serve "$dir/config.yml" > "$dir/registry.log" 2>&1 &
  SERVICE_PIDS+=($!)
  REGISTRY_HOST=
  for _ in $(seq 1 200); do
    REGISTRY_HOST=$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$dir/registry.log" | head -n1)
    [ -n "$REGISTRY_HOST" ] && break
    sleep 0.05
  done
  [ -n "$REGISTRY_HOST" ] || { cat "$dir/registry.log" >&2; echo "docker-registry did not start" >&2; return 1; }
}

# start_dockerd DIR: a dockerd of its own (vfs storage, no networking set-up) with its
# state in DIR; sets and exports DOCKER_HOST.
start_dockerd() {
  local dir=$1
  mkdir -p "$dir"
  echo '{}' > "$dir/daemon.json"
  dockerd --config-file "$dir/daemon.json" --data-root "$dir/data" --exec-root "$dir/exec" \
    --pidfile "$dir/dockerd.pid" -H "unix://$dir/docker.sock" --storage-driver=vfs \
    --iptables=false --ip6tables=false --bridge=none --ip-masq=false --userland-proxy=false \
    > "$dir/dockerd.log" 2>&1 &
  SERVICE_PIDS+=($!)
  DOCKERD_EXEC_ROOT=$dir/exec
  export DOCKER_HOST=unix://$dir/docker.sock
  for _ in $(seq 1 300); do docker version >/dev/null 2>&1 && return 0; sleep 0.1; done
  cat "$dir/dockerd.log" >&2
  echo "dockerd did not start" >&2
  return 1
}

# stop_services: stops what was started and waits for it to exit.
stop_services() {
  local p
  for p in "${SERVICE_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${SERVICE_PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  SERVICE_PIDS=()
  # a container run leaves dockerd's network namespace mounted under its exec root
  [ -z "${DOCKERD_EXEC_ROOT:-}" ] || umount "$DOCKERD_EXEC_ROOT/netns/default" 2>/dev/null || true
}
