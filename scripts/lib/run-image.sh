# make_run_image DIR [RELEASE]: writes a small run image as an OCI layout at DIR
# (busybox-static with its applets, bash-static as /bin/bash, /usr/bin/env, a `cnb` user
# 1000:1000, PATH=/bin, RELEASE (default 1) in /etc/run-image-release) and prints the
# reference the lifecycle records for it: `DIR@sha256:<manifest digest>`.
# Deterministic: the same packages and release give the same digest.
make_run_image() {
  local dir=$1 release=${2:-1} work root
  work=$(mktemp -d)
  root=$work/rootfs
  mkdir -p "$root/bin" "$root/usr/bin" "$root/etc" "$root/tmp" "$root/home/cnb" "$dir/blobs/sha256"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  cp /bin/bash-static "$root/bin/bash"
  for applet in sh env echo cat ls id printenv sleep true false test pwd paste sed; do
    ln -s busybox "$root/bin/$applet"
  done
  ln -s ../../bin/busybox "$root/usr/bin/env"
  echo "$release" > "$root/etc/run-image-release"
  printf 'root:x:0:0:root:/root:/bin/sh\ncnb:x:1000:1000:cnb:/home/cnb:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\ncnb:x:1000:\n' > "$root/etc/group"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$work/layer.tar" .
  local diff layer config manifest
  diff=sha256:$(sha256sum < "$work/layer.tar" | cut -d' ' -f1)
  gzip -n -1 "$work/layer.tar"
  layer=$(sha256sum < "$work/layer.tar.gz" | cut -d' ' -f1)
  mv "$work/layer.tar.gz" "$dir/blobs/sha256/$layer"
  _blob() { local d; d=$(printf '%s' "$1" | sha256sum | cut -d' ' -f1); printf '%s' "$1" > "$dir/blobs/sha256/$d"; echo "$d"; }
  config=$(_blob '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["'"$diff"'"]},"config":{"Env":["PATH=/bin"],"User":"1000:1000","Labels":{"io.buildpacks.stack.id":"example.stack"}}}')
  manifest=$(_blob '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'"$config"'","size":'"$(stat -c %s "$dir/blobs/sha256/$config")"'},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:'"$layer"'","size":'"$(stat -c %s "$dir/blobs/sha256/$layer")"'}]}')
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
    "$manifest" "$(stat -c %s "$dir/blobs/sha256/$manifest")" > "$dir/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
  rm -rf "$work"
  echo "$dir@sha256:$manifest"
}
