#!/usr/bin/env bash
# Publishes BuildServer as ONE self-contained executable, publish/buildserver, with appsettings.json beside it.
# Usage: tools/publish.sh [RID] [OUTPUT_DIR]      (defaults: linux-x64, <repo>/publish)
# The packaging properties live in BuildServer/Publish.props (applied only when a RID is given).
set -euo pipefail

rid="${1:-${RID:-linux-x64}}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${2:-$root/publish}"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# A stale publish folder could keep files from an earlier layout; start clean.
rm -rf "$out"
dotnet publish "$root/BuildServer/BuildServer.csproj" -c Release -r "$rid" -o "$out" -nologo

echo
echo "Published to $out:"
ls -l "$out"
size=$(stat -c %s "$out/buildserver")
echo "buildserver: $size bytes ($(( (size + 524288) / 1048576 )) MiB)"
