#!/usr/bin/env bash
# Builds this machine's release archive and the installers, as the release workflow does on
# each system's runner, and checks them (docs/RELEASING.md).
#
# Usage: packaging/build-release.sh [TARGET]
#   TARGET: a target of dist-workspace.toml; by default this machine's (rustc's host).
# Needs: dist (cargo-dist), the version in dist-workspace.toml:
#   cargo install cargo-dist --locked --version 0.34.0
# Leaves in target/distrib/: gpbackup-TARGET.tar.xz (.zip on Windows) and its .sha256,
# gpbackup-installer.sh, gpbackup-installer.ps1, gpbackup.rb (the Homebrew formula; it names
# the other systems' archives without their checksums, which only the release workflow has).
# Then: runs the binary in the archive, and installs it with the shell installer from a local
# copy of the release files (the installer reads them over HTTP from 127.0.0.1, as it would
# from GitHub) into a temporary folder, and runs the installed binary.
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(sed -n 's/^cargo-dist-version = "\(.*\)"$/\1/p' dist-workspace.toml)
if ! command -v dist >/dev/null 2>&1; then
  echo "dist is not installed: cargo install cargo-dist --locked --version $want" >&2
  exit 2
fi
have=$(dist --version | awk '{print $2}')
if [ "$have" != "$want" ]; then
  echo "warning: dist $have here; the release workflow uses $want" >&2
fi
target=${1:-$(rustc -vV | sed -n 's/^host: //p')}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
# dist writes here whatever CARGO_TARGET_DIR says.
out=target/distrib

# The archive of the target, then the installers (made once for every target: on their own,
# `--artifacts=global`, as the release workflow does; a host build makes the shell one only).
dist build --artifacts=local --target "$target"
dist build --artifacts=global

case "$target" in
  *windows*) archive="$out/gpbackup-$target.zip" ;;
  *) archive="$out/gpbackup-$target.tar.xz" ;;
esac
for f in "$archive" "$archive.sha256" "$out/gpbackup-installer.sh" \
  "$out/gpbackup-installer.ps1" "$out/gpbackup.rb"; do
  [ -s "$f" ] || { echo "missing: $f" >&2; exit 1; }
done
(cd "$out" && sha256sum -c "$(basename "$archive").sha256")
grep -q "gpbackup-$target" "$out/gpbackup.rb" || case "$target" in
  *windows*) ;; # the formula names macOS and Linux archives only
  *) echo "the formula does not name $archive" >&2; exit 1 ;;
esac

# The binary can only be run where it was built for.
host=$(rustc -vV | sed -n 's/^host: //p')
if [ "$target" != "$host" ] || [[ "$target" == *windows* ]]; then
  echo "built $archive (not run: not this machine's target)"
  exit 0
fi

tmp=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# The archive: a folder with the binary, the README and the licence.
tar -xJf "$archive" -C "$tmp"
"$tmp/gpbackup-$target/gpbackup" --version | grep -qx "gpbackup $version"
ls "$tmp/gpbackup-$target"

# The shell installer, pointed at a local copy of the release files (it fetches
# $GPBACKUP_DOWNLOAD_URL/FILE, by default the GitHub release of this version) and told to put
# the binary in a temporary folder without touching PATH or the shell's profile.
mkdir -p "$tmp/www"
cp "$archive" "$archive.sha256" "$tmp/www/"
port=$((20000 + RANDOM % 20000))
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$tmp/www" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$port/" >/dev/null && break
  sleep 0.1
done
GPBACKUP_DOWNLOAD_URL="http://127.0.0.1:$port" GPBACKUP_UNMANAGED_INSTALL="$tmp/bin" \
  sh "$out/gpbackup-installer.sh"
"$tmp/bin/gpbackup" --version | grep -qx "gpbackup $version"
echo "ok: $archive runs, and gpbackup-installer.sh installs it ($("$tmp/bin/gpbackup" --version))"
