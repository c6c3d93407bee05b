#!/usr/bin/env bash
# The Go client's stubs, generated from protos/ with the standard plugins (protoc-gen-go and
# protoc-gen-go-grpc at the versions scripts/tools.sh pins) and committed under
# clients/go/gen/, so `go run` works from a plain checkout with nothing but Go.
# Usage: scripts/clients-go-stubs.sh gen|check
#   gen    regenerate clients/go/gen/
#   check  fail when clients/go/gen/ differs from what protos/ generate
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
BIN=.tools/bin
GO_PACKAGE="example.com/switchboard/clients/go/gen/switchboard/v1;switchboardv1"
# The public API and the messages it uses; the mesh's internal services stay out of the client.
MESSAGES=(switchboard/v1/common.proto switchboard/v1/events.proto switchboard/v1/session.proto
  switchboard/v1/router.proto)
SERVICES=(switchboard/v1/router.proto)

protoc() {
  local sp
  sp=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$PY" -m grpc_tools.protoc -I protos -I build/third_party/proto -I "$sp/grpc_tools/_proto" "$@"
}

generate_into() {
  local out=$1 name tool
  local go_opts=(--go_opt=paths=source_relative) grpc_opts=(--go-grpc_opt=paths=source_relative)
  for tool in protoc-gen-go protoc-gen-go-grpc; do
    if [[ ! -x "$BIN/$tool" ]]; then
      echo "$BIN/$tool is missing: run scripts/tools.sh" >&2
      exit 1
    fi
  done
  scripts/proto.sh deps
  # The protos carry no go_package option (they are language-neutral): map each file here.
  for name in "${MESSAGES[@]}"; do
    go_opts+=("--go_opt=M$name=$GO_PACKAGE")
    grpc_opts+=("--go-grpc_opt=M$name=$GO_PACKAGE")
  done
  mkdir -p "$out"
  protoc --plugin=protoc-gen-go="$BIN/protoc-gen-go" --go_out="$out" "${go_opts[@]}" \
    "${MESSAGES[@]}" >/dev/null
  protoc --plugin=protoc-gen-go-grpc="$BIN/protoc-gen-go-grpc" --go-grpc_out="$out" \
    "${grpc_opts[@]}" "${SERVICES[@]}" >/dev/null
}

gen() {
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  generate_into "$tmp"
  rm -rf clients/go/gen
  mkdir -p clients/go/gen
  cp -r "$tmp/switchboard" clients/go/gen/
  echo "generated clients/go/gen/switchboard/v1 from protos/switchboard/v1"
}

check() {
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  generate_into "$tmp"
  if ! diff -r "$tmp/switchboard" clients/go/gen/switchboard; then
    echo "clients/go/gen/ has drifted from protos/: run scripts/clients-go-stubs.sh gen" >&2
    exit 1
  fi
  echo "the Go client's stubs match protos/"
}

"$@"
