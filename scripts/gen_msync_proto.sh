#!/usr/bin/env bash
# Regenerate src/hxim/msync/easemob_pb2.py (and its type stub) from easemob.proto with the protoc
# of grpcio-tools (a test dependency: tests/unit/test_msync_wire.py checks the file is current).
set -euo pipefail
cd "$(dirname "$0")/../src/hxim/msync"
PY=${PYTHON:-../../../.venv/bin/python}
"$PY" -m grpc_tools.protoc -I. --python_out=. --pyi_out=. easemob.proto
