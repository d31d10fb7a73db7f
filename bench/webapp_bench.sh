#!/usr/bin/env bash
# bench/webapp_bench.sh: the models web app's first page load (issue 16's figure: all assets under 300 KB
# gzipped and under 200 ms on loopback), against nginx serving the same files from web/dist with gzip, same
# run (docs/benchmarks.md, "Web app").
#
#   bash bench/webapp_bench.sh
#
# Starts `inferd serve` (ephemeral ports, a scratch data dir) and nginx (gzip on, the same web/dist), then
# bench/webapp_load.mjs loads inferd's /ui/ and nginx's /index.html in headless chromium, ROUNDS times each,
# interleaved, each load in a fresh browser context (nothing cached). Prints the median load time and the
# bytes transferred of each, and inferd / nginx.
#
# Environment: BUILD_DIR (build), ROUNDS (15), KEEP_WORK=1. Needs: nginx, node with web/node_modules
# (scripts/setup.sh), /usr/bin/chromium, curl.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
ROUNDS=${ROUNDS:-15}
die() { echo "webapp_bench: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
for tool in nginx node curl; do command -v "$tool" >/dev/null || die "$tool is missing (bash scripts/setup.sh)"; done
[[ -x "$BUILD/inferd" ]] || die "no $BUILD/inferd (bash scripts/dev.sh build)"
[[ -d "$ROOT/web/node_modules/playwright-core" ]] || die "no web/node_modules (bash scripts/setup.sh)"

WORK=$(mktemp -d /tmp/inferd-webapp-bench.XXXXXX)
PIDS=()
# shellcheck source=bench/bench_lib.sh
source "$ROOT/bench/bench_lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

start_server serve 'api_port=([0-9]+)' "$BUILD/inferd" serve --data_dir "$WORK/data" --host 127.0.0.1 \
  --http_port 0 --grpc_port 0 --api_port 0
API=${PORTS[0]}
wait_ready "http://127.0.0.1:$API/ui/"

chmod 755 "$WORK"  # nginx workers run as nobody and read the files from here
cp -r "$ROOT/web/dist" "$WORK/www"
chmod -R a+rX "$WORK/www"
port=$(/usr/bin/python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  gzip on;
  gzip_comp_level 9;
  gzip_types text/css application/javascript text/javascript application/json image/svg+xml text/plain;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$port;
    root $WORK/www;
    # The bundle's index.html names its assets under /ui/ (where inferd serves them).
    location /ui/ { alias $WORK/www/; }
  }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" >"$WORK/nginx.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$port/ui/index.html"

log "loading each page $ROUNDS times (load average $(cut -d' ' -f1 /proc/loadavg))"
out=$(node "$ROOT/bench/webapp_load.mjs" "$ROUNDS" "inferd=http://127.0.0.1:$API/ui/" \
        "nginx=http://127.0.0.1:$port/ui/index.html") || die "the browser run failed: $out"
echo "$out" | grep -v '^RESULT' >&2
declare -A MS BYTES
while read -r _ name ms bytes; do
  MS[$name]=${ms#median_ms=}
  BYTES[$name]=${bytes#bytes=}
done < <(grep '^RESULT' <<<"$out")
printf 'webapp_bench: %s rounds, load average %s at the end\n' "$ROUNDS" "$(cut -d' ' -f1 /proc/loadavg)"
for n in inferd nginx; do
  printf '  %-7s first load %7.1f ms   %7d bytes transferred\n' "$n" "${MS[$n]}" "${BYTES[$n]}"
done
awk -v a="${MS[inferd]}" -v b="${MS[nginx]}" -v x="${BYTES[inferd]}" -v y="${BYTES[nginx]}" 'BEGIN {
  printf "  inferd / nginx: %.2fx the load time, %.2fx the bytes (targets: < 200 ms, < 300 KB)\n", a / b, x / y }'
