#!/usr/bin/env bash
# Protobuf build steps. Usage: scripts/proto.sh deps|gen|check|breaking
#   deps      fill build/third_party/proto with google/api/*.proto from the installed
#             googleapis-common-protos package (buf and protoc import them from there)
#   gen       regenerate the Python bindings into switchboard/ (committed)
#   check     fail when the committed bindings (or those in DIR, if given) differ from what the
#             protos generate
#   breaking  buf breaking-change check against the previous commit's protos
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
BUF="$PWD/node_modules/.bin/buf"
THIRD_PARTY=build/third_party/proto

site_packages() { "$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

deps() {
  local sp
  sp=$(site_packages)
  mkdir -p "$THIRD_PARTY/google/api"
  cp "$sp"/google/api/{annotations,http,httpbody}.proto "$THIRD_PARTY/google/api/"
}

generate_into() {
  local out=$1 sp
  sp=$(site_packages)
  mkdir -p "$out"
  # grpc_tools ships the well-known types (google/protobuf/*.proto) under its _proto folder.
  "$PY" -m grpc_tools.protoc \
    -I protos -I "$THIRD_PARTY" -I "$sp/grpc_tools/_proto" \
    --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
    protos/switchboard/v1/*.proto
  touch "$out/switchboard/__init__.py" "$out/switchboard/v1/__init__.py"
}

gen() {
  deps
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  generate_into "$tmp"
  rm -rf switchboard
  cp -r "$tmp/switchboard" switchboard
  echo "generated switchboard/v1 from protos/switchboard/v1"
}

check() {
  local committed=${1:-switchboard}
  deps
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  generate_into "$tmp"
  if ! diff -r -x __pycache__ "$tmp/switchboard" "$committed"; then
    echo "$committed/ has drifted from protos/: run 'make proto' and commit the result" >&2
    exit 1
  fi
  echo "generated code matches protos/"
}

breaking() {
  deps
  if ! git rev-parse --verify -q HEAD~1 >/dev/null; then
    echo "no previous commit: breaking-change check skipped"
    return 0
  fi
  if ! git cat-file -e HEAD~1:protos 2>/dev/null; then
    echo "the previous commit has no protos/: breaking-change check skipped"
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  # Rebuild the previous commit's workspace (its protos with today's third-party imports) into
  # an image, and compare the working tree against it.
  git archive HEAD~1 protos | tar -x -C "$tmp"
  cp buf.yaml "$tmp/"
  mkdir -p "$tmp/build" && cp -r build/third_party "$tmp/build/"
  (cd "$tmp" && "$BUF" build --path protos/switchboard -o previous.binpb)
  "$BUF" build --path protos/switchboard -o "$tmp/current.binpb"
  "$BUF" breaking "$tmp/current.binpb" --against "$tmp/previous.binpb"
  echo "no breaking changes against the previous commit"
}

"$@"
