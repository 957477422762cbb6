#!/usr/bin/env bash
# Generates Python code, type stubs and gRPC stubs for proto/ into OUT (default pkg/proto/gen).
# Generated imports name the proto path (datadog.model.v1...); they are rewritten to the
# package they live in so that nothing installs a top-level `datadog` package.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$root/pkg/proto/gen}
py=${PYTHON:-$root/.venv/bin/python}
bin=$(dirname "$py")
include=$("$py" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')

rm -rf "$out"
mkdir -p "$out"
cd "$here"
mapfile -t files < <(find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
"$py" -m grpc_tools.protoc -I. -I"$include" \
  --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-mypy="$bin/protoc-gen-mypy" --mypy_out="$out" \
  --plugin=protoc-gen-mypy_grpc="$bin/protoc-gen-mypy_grpc" --mypy_grpc_out="$out" \
  "${files[@]}"

# Turn every generated directory into a package and make imports absolute under pkg.proto.gen.
find "$out" -type d -exec sh -c 'for d; do : > "$d/__init__.py"; done' _ {} +
find "$out" -name '*.py' -o -name '*.pyi' | while read -r f; do
  sed -i -E \
    -e 's/^(from|import) (datadog|configstream|etcd)\./\1 pkg.proto.gen.\2./' \
    -e 's/^import (pkg\.proto\.gen\.[a-z0-9_.]+)\.([a-z0-9_]+_pb2) as /from \1 import \2 as /' \
    "$f"
done
