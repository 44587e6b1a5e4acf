#!/usr/bin/env bash
# Switchboard developer entry point, for a Debian 12 machine.
#
#   deploy/dev.sh run  [--config FILE]  install what is missing, build, start the gateway
#   deploy/dev.sh test                  install what is missing, build, run every test; then
#                                       the same under ASan+UBSan with the fuzz targets
#                                       (SAN_BUILD_DIR, default: build-asan; SANITIZERS=0 skips)
#   deploy/dev.sh sanitize              only the ASan+UBSan part of `test`
#   deploy/dev.sh install               only install the Debian packages that are missing
#   deploy/dev.sh build                 only configure and build (BUILD_DIR, default: build)
#   deploy/dev.sh fake [PORT] [NAME]    start the fake upstream (a stand-in for vLLM or a
#                                       closed provider) on 127.0.0.1:PORT (default 8000)
#   deploy/dev.sh engine [PORT] [OPTS]  start a simulated vLLM replica with a real batch, KV
#                                       cache and /metrics on 127.0.0.1:PORT (fake_engine --help)
#
# Installing needs root (or sudo). Without either, install the packages listed by
# `deploy/dev.sh packages` yourself and run the same command again.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
# ccache keys on paths relative to the checkout, so any clone (CI's fresh one included) reuses what
# another clone compiled; the sanitizer build carries line tables, which must not pin the key to
# the build directory either.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$here}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
BUILD_DIR="${BUILD_DIR:-build}"
SAN_BUILD_DIR="${SAN_BUILD_DIR:-build-asan}"
JOBS="${JOBS:-$(nproc)}"

# The Debian 12 packages the build and the tests need (the Dockerfile installs the same list).
PACKAGES=(
  cmake ninja-build g++ pkg-config ccache git ca-certificates curl openssl
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libyaml-cpp-dev libssl-dev prometheus-cpp-dev libhyperscan-dev libhiredis-dev
  libgtest-dev libgmock-dev libbenchmark-dev libicu-dev
  clang libclang-rt-14-dev llvm
  prometheus redis-server strace
)
# Real clients in the tests: Node.js 18+ and npm (Debian's, unless a newer node is present).
NODE_PACKAGES=(nodejs npm)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

missing_packages() {
  local want=("${PACKAGES[@]}")
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    want+=("${NODE_PACKAGES[@]}")
  fi
  local p
  for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      printf '%s\n' "$p"
    fi
  done
}

install() {
  local missing
  mapfile -t missing < <(missing_packages)
  if [ "${#missing[@]}" -eq 0 ]; then
    say "all packages present"
    return
  fi
  say "installing: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "error: these packages are missing and installing them needs root:" >&2
      echo "  apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${missing[@]}"
  # Debian's prometheus package starts its own service on :9090, the gateway's admin port; the
  # tests run their own Prometheus, so the packaged service is stopped when this script put it there.
  if printf '%s\n' "${missing[@]}" | grep -qx prometheus; then
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
      say "stopping the packaged prometheus service (it would hold :9090)"
      "${sudo[@]}" systemctl disable --now prometheus || true
    elif [ -x /etc/init.d/prometheus ] && "${sudo[@]}" /etc/init.d/prometheus status >/dev/null 2>&1; then
      say "stopping the packaged prometheus service (it would hold :9090)"
      "${sudo[@]}" /etc/init.d/prometheus stop || true
    fi
  fi
}

configure() {
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    say "configuring ($BUILD_DIR)"
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
  fi
}

build() {
  mkdir -p "$BUILD_DIR"
  # Several dev.sh commands started at once (say, two fakes and the gateway) build one at a time.
  exec 9>"$BUILD_DIR/.dev-build.lock"
  flock 9
  configure
  say "building${1:+ $*}"
  if [ $# -gt 0 ]; then
    cmake --build "$BUILD_DIR" -j "$JOBS" --target "$@"
  else
    cmake --build "$BUILD_DIR" -j "$JOBS"
  fi
  flock -u 9
}

# The asan-ubsan preset (clang, AddressSanitizer + UndefinedBehaviorSanitizer, libFuzzer targets)
# in its own build directory; ccache keeps the rebuilds short.
sanitizer_test() {
  mkdir -p "$SAN_BUILD_DIR"
  exec 9>"$SAN_BUILD_DIR/.dev-build.lock"
  flock 9
  if [ ! -f "$SAN_BUILD_DIR/build.ninja" ]; then
    say "configuring ($SAN_BUILD_DIR, preset asan-ubsan)"
    cmake --preset asan-ubsan -B "$SAN_BUILD_DIR"
  fi
  say "building with ASan+UBSan"
  cmake --build "$SAN_BUILD_DIR" -j "$JOBS"
  flock -u 9
  # Tests labelled no-sanitizer are left out (each says why where the label is set).
  say "running every test under ASan+UBSan, fuzz targets included"
  ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    ctest --test-dir "$SAN_BUILD_DIR" --output-on-failure -j "$JOBS" --timeout 900 -LE no-sanitizer
}

cmd="${1:-help}"
shift || true
case "$cmd" in
  install)
    install
    ;;
  packages)
    printf '%s\n' "${PACKAGES[@]}" "${NODE_PACKAGES[@]}"
    ;;
  build)
    install
    build "$@"
    ;;
  run)
    config="config/switchboard.yaml"
    if [ "${1:-}" = "--config" ] && [ -n "${2:-}" ]; then
      config="$2"
    fi
    install
    build switchboard fake_upstream
    say "starting switchboard on $config (Ctrl-C stops it)"
    exec "$BUILD_DIR/gateway/switchboard" run --config "$config"
    ;;
  fake)
    port="${1:-8000}"
    name="${2:-fake-vllm}"
    install
    build fake_upstream
    exec "$BUILD_DIR/tests/support/fake_upstream" --host 127.0.0.1 --port "$port" --name "$name"
    ;;
  engine)
    port="${1:-8000}"
    shift || true
    install
    build fake_engine
    exec "$BUILD_DIR/tests/support/fake_engine" --host 127.0.0.1 --port "$port" "$@"
    ;;
  test)
    install
    build
    say "running every test"
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" --timeout 600
    if [ "${SANITIZERS:-1}" != 0 ]; then
      sanitizer_test
    fi
    ;;
  sanitize)
    install
    sanitizer_test
    ;;
  help | -h | --help)
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    ;;
  *)
    echo "unknown command '$cmd'; see: deploy/dev.sh help" >&2
    exit 2
    ;;
esac
