#!/usr/bin/env bash
# Installs what the VS Code tests need, once: Debian's chromium, ripgrep and libkrb5-dev, and the VS Code 1.100.3
# server (inside code-server@4.100.3) with playwright-core, in a cache folder outside the repo so `npm ci` does
# not wipe it. Idempotent: a second call only checks and returns. Prints the folder it installed into.
set -euo pipefail

DIR="${STAR_E2E_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/star-studio/e2e-code-server-4.100.3}"
MARK="$DIR/.ready"

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v rg >/dev/null || need_apt+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup-e2e: apt-get install ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >&2
fi

if [ ! -f "$MARK" ]; then
  mkdir -p "$DIR"
  # code-server pulls @vscode/ripgrep, whose install would download rg from GitHub: hand it Debian's instead.
  cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11"
  tarball="$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
  if [ ! -f "$tarball" ]; then
    mkdir -p "$cache"
    tmp="$(mktemp -d)"
    cp "$(command -v rg)" "$tmp/rg"
    tar -czf "$tarball" -C "$tmp" rg
    rm -rf "$tmp"
  fi
  # A private package.json so the install never touches the project's lockfile; code-server's own install
  # script fetches its VS Code dependencies, so its scripts are allowed here (and only here).
  cat >"$DIR/package.json" <<'EOF'
{
  "name": "star-studio-e2e-tools",
  "private": true,
  "dependencies": { "code-server": "4.100.3", "playwright-core": "1.65.1" },
  "allowScripts": { "code-server": true, "@vscode/ripgrep": true, "kerberos": true, "node-pty": true, "@parcel/watcher": true, "@vscode/spdlog": true, "@vscode/windows-registry": true, "argon2": true }
}
EOF
  echo "setup-e2e: installing code-server 4.100.3 and playwright-core into $DIR (about a minute)" >&2
  (cd "$DIR" && npm_config_yes=true npm_config_unsafe_perm=true npm install --no-audit --no-fund --loglevel=error >&2)
  test -f "$DIR/node_modules/code-server/lib/vscode/out/server-main.js"
  touch "$MARK"
fi
echo "$DIR"
