#!/usr/bin/env bash
# Installs what the tests need (Debian packages), then builds and runs every test.
# The tests start their components themselves: a private PostgreSQL (initdb + pg_ctl on a temp folder,
# 127.0.0.1 only), a private Docker engine (dockerd on a temp folder, no bridge: ../shared/DOCKER.md),
# QEMU microVMs (TCG) and the real server as processes on 127.0.0.1; the UI tests drive a headless Chromium against it.
# Usage: bash tools/test.sh [dotnet test args]
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v setsid >/dev/null || missing+=(util-linux)
command -v python3 >/dev/null || missing+=(python3)
command -v perl >/dev/null || missing+=(perl)
command -v runuser >/dev/null || missing+=(util-linux)
command -v dockerd >/dev/null || missing+=(docker.io)
test -x /bin/busybox || missing+=(busybox-static)
# The microVM executor: QEMU, a guest kernel with its modules, mke2fs/debugfs for the job disk, lz4 to unpack the kernel.
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
ls /boot/vmlinuz-* >/dev/null 2>&1 || missing+=(linux-image-cloud-amd64)
command -v mke2fs >/dev/null && command -v debugfs >/dev/null || missing+=(e2fsprogs)
command -v lz4 >/dev/null || missing+=(lz4)
# The UI tests drive Debian's Chromium through Playwright (never Playwright's own browser download).
test -x /usr/bin/chromium || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tools/test.sh: missing Debian packages (${missing[*]}); install them as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
dotnet test BuildServer.sln -c Release --logger "trx;LogFileName=results.trx" --results-directory "$results" "$@" || status=$?

# One plain summary line for CI, from the test results file.
trx=$(find "$results" -name '*.trx' | head -n 1)
if [ -n "$trx" ]; then
  passed=$(grep -o 'passed="[0-9]*"' "$trx" | head -n 1 | tr -dc '0-9')
  failed=$(grep -o 'failed="[0-9]*"' "$trx" | head -n 1 | tr -dc '0-9')
  echo "${passed:-0} passed, ${failed:-0} failed"
fi
exit $status
