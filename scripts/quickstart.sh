#!/usr/bin/env bash
# The newcomer's first run, fully offline: install, build, start lading's own registry, make a
# small image from a root filesystem tarball, push it, pull it into a second empty store, list it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
work=$(mktemp -d)
port=5055
./bin/lading.js registry serve --addr "127.0.0.1:$port" --root "$work/registry" >"$work/registry.log" 2>&1 &
reg=$!
trap 'kill $reg 2>/dev/null; wait $reg 2>/dev/null; rm -rf "$work"' EXIT
node -e "const u=process.argv[1];(async()=>{for(let i=0;i<200;i++){try{if((await fetch(u)).ok)return}catch{}await new Promise(r=>setTimeout(r,50))}process.exit(1)})()" "http://127.0.0.1:$port/v2/"
mkdir -p "$work/rootfs/etc"
echo 'hello from lading' >"$work/rootfs/etc/motd"
tar -C "$work/rootfs" -czf "$work/rootfs.tar.gz" .
ref="127.0.0.1:$port/demo/hello:1"
export LADING_ROOT="$work/store-a"
./bin/lading.js import -c 'CMD ["cat", "/etc/motd"]' -m 'quick start' "$work/rootfs.tar.gz" "$ref"
./bin/lading.js push "$ref"
export LADING_ROOT="$work/store-b"   # a second, empty store pulls it back
./bin/lading.js pull "$ref"
./bin/lading.js images
./bin/lading.js image inspect --format '{{.Id}} {{json .Config.Cmd}}' "$ref"
