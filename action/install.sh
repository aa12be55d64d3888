#!/usr/bin/env bash
# Install git-ml for the action: the released binary for this runner, verified against its
# published sha256 (default); or `cargo install` from the action's own source; or the git-ml
# already on PATH. Puts it on PATH for the next steps (GITHUB_PATH).
set -euo pipefail
mode="${GITML_INSTALL:-release}"
dest="${RUNNER_TEMP:-/tmp}/git-ml-bin"
say() { echo "git-ml install: $*" >&2; }

case "$mode" in
  path)
    command -v git-ml >/dev/null || { echo "error: install: path, but no git-ml on PATH" >&2; exit 2; }
    say "using $(command -v git-ml) ($(git-ml --version))"
    exit 0
    ;;
  source)
    command -v cargo >/dev/null || { echo "error: install: source needs cargo (a Rust toolchain) on the runner" >&2; exit 2; }
    say "building from $GITHUB_ACTION_PATH (cargo install --locked)"
    cargo install --locked --quiet --path "$GITHUB_ACTION_PATH" --root "$dest"
    echo "$dest/bin" >> "$GITHUB_PATH"
    "$dest/bin/git-ml" --version >&2
    exit 0
    ;;
  release) ;;
  *) echo "error: input install must be release, source or path (got '$mode')" >&2; exit 2 ;;
esac

version="${GITML_VERSION:-}"
if [ -z "$version" ]; then
  case "${GITML_ACTION_REF:-}" in
    v[0-9]*.[0-9]*.[0-9]*) version="$GITML_ACTION_REF" ;;
    *) echo "error: the action is not used at a release tag (uses: ...@${GITML_ACTION_REF:-?}); set input version (e.g. v0.2.0) or install: source" >&2; exit 2 ;;
  esac
fi
case "$version" in
  v[0-9]*) ;;
  *) version="v$version" ;;
esac
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) target=x86_64-unknown-linux-gnu ;;
  Linux-aarch64) target=aarch64-unknown-linux-gnu ;;
  Darwin-arm64) target=aarch64-apple-darwin ;;
  Darwin-x86_64) target=x86_64-apple-darwin ;;
  *) echo "error: no released git-ml for $(uname -s) $(uname -m); use install: source" >&2; exit 2 ;;
esac
repo="${GITML_ACTION_REPOSITORY:-}"
[ -n "$repo" ] || { echo "error: cannot tell which repository the action comes from; set install: source" >&2; exit 2; }
base="${GITML_SERVER_URL:-https://github.com}/$repo/releases/download/$version"
asset="git-ml-$version-$target.tar.gz"
work="$(mktemp -d)"
say "downloading $base/$asset"
curl -fsSL --retry 3 -o "$work/$asset" "$base/$asset"
curl -fsSL --retry 3 -o "$work/$asset.sha256" "$base/$asset.sha256"
(cd "$work" && sha256sum -c "$asset.sha256" >&2) || { echo "error: $asset does not match its published sha256; not installed" >&2; exit 2; }
mkdir -p "$dest/bin"
tar -xzf "$work/$asset" -C "$work"
install -m 0755 "$work/git-ml-$version-$target/git-ml" "$dest/bin/git-ml"
rm -rf "$work"
echo "$dest/bin" >> "$GITHUB_PATH"
"$dest/bin/git-ml" --version >&2
