#!/usr/bin/env bash
# Tools for the gateway, the other-language clients and the Kubernetes manifests, at pinned
# versions, into the project-local .tools/bin (gitignored). Idempotent: a second run only checks
# stamps, so `make setup` stays fast.
#   grpcurl                      exploring the mesh (reflection) and the README examples
#   protoc-gen-go, -go-grpc      the Go client's stubs (scripts/clients-go-stubs.sh)
#   kustomize                    only when kubectl (which embeds it) is not on the PATH
#   clients/node/node_modules    `npm ci` for the Node.js client
#   clients/go module cache      the Go client's dependencies, so tests need no network
# Needs go (1.24+) and npm on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

GRPCURL_VERSION=v1.9.3
PROTOC_GEN_GO_VERSION=v1.36.11
PROTOC_GEN_GO_GRPC_VERSION=v1.6.0
KUSTOMIZE_VERSION=v5.7.1

TOOLS="$PWD/.tools"
STAMPS="$TOOLS/stamps"
export GOBIN="$TOOLS/bin"
# Never let a go.mod's toolchain line download another Go.
export GOTOOLCHAIN=local
mkdir -p "$GOBIN" "$STAMPS"

# go_tool NAME PACKAGE VERSION: `go install PACKAGE@VERSION` unless that exact version is in.
go_tool() {
  local name=$1 package=$2 version=$3
  local stamp="$STAMPS/$name@$version"
  if [[ -x "$GOBIN/$name" && -e "$stamp" ]]; then
    return 0
  fi
  echo "installing $name $version into .tools/bin"
  go install "$package@$version"
  rm -f "$STAMPS/$name@"*
  touch "$stamp"
}

go_tool grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl "$GRPCURL_VERSION"
go_tool protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
go_tool protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"
if ! command -v kubectl >/dev/null; then
  go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"
fi

# The Node.js client: reinstall only when its lock file changed.
node_stamp=clients/node/node_modules/.installed
if [[ ! -e "$node_stamp" || clients/node/package-lock.json -nt "$node_stamp" ]]; then
  echo "installing the Node.js client's packages (npm ci)"
  (cd clients/node && npm ci --no-audit --no-fund --loglevel=error)
  touch "$node_stamp"
fi

# The Go client: fetch and compile its dependencies once, so `go run` in tests is offline.
go_stamp="$STAMPS/clients-go.sum"
if [[ ! -e "$go_stamp" ]] || ! cmp -s clients/go/go.sum "$go_stamp"; then
  echo "building the Go client's dependencies"
  (cd clients/go && go build -o /dev/null ./...)
  cp clients/go/go.sum "$go_stamp"
fi
