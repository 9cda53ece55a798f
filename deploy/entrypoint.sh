#!/bin/sh
# The container's entry point (docs/deployment.md). SERVER_DIR: the server directory made by
# `huren demo export-server`, shared read-only by every replica (config, anchors, API-key hashes,
# receipt key). STATE_DIR: this replica's own writable state: its trust directory, seeded from
# the shared one on first start and then kept current by uploads and trust sync, and its audit
# log (by default next to the trust directory).
set -eu
SERVER_DIR="${SERVER_DIR:-/srv/huren}"
STATE_DIR="${STATE_DIR:-/var/lib/huren}"

if [ ! -r "$SERVER_DIR/huren.json" ]; then
    echo "huren: cannot read $SERVER_DIR/huren.json as uid $(id -u): mount the server directory" \
        "there and make it readable (chown -R 10001:10001 DIR on the host)" >&2
    exit 1
fi
if [ ! -w "$STATE_DIR" ]; then
    echo "huren: $STATE_DIR is not writable by uid $(id -u): chown -R 10001:10001 it" >&2
    exit 1
fi
if [ ! -d "$STATE_DIR/trust" ]; then
    # Copied aside and renamed: a start interrupted here leaves no half-seeded trust directory.
    # The seed is SERVER_DIR/trust, or SERVER_DIR/trust.tar (made by `tar -C srv -cf trust.tar
    # trust`) where the server directory cannot hold subdirectories (a Kubernetes ConfigMap).
    rm -rf "$STATE_DIR/.trust-seed" "$STATE_DIR/.trust-unpack"
    if [ -d "$SERVER_DIR/trust" ]; then
        cp -R "$SERVER_DIR/trust" "$STATE_DIR/.trust-seed"
    else
        mkdir "$STATE_DIR/.trust-unpack"
        tar -xf "$SERVER_DIR/trust.tar" -C "$STATE_DIR/.trust-unpack"
        mv "$STATE_DIR/.trust-unpack/trust" "$STATE_DIR/.trust-seed"
        rmdir "$STATE_DIR/.trust-unpack"
    fi
    mv "$STATE_DIR/.trust-seed" "$STATE_DIR/trust"
fi

HUREN_TRUST_DIR="$STATE_DIR/trust"
export HUREN_TRUST_DIR
exec huren serve --config "$SERVER_DIR/huren.json" --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}"
