#!/usr/bin/env bash
# The loopback Redis the auth-store-redis tests run against, for CI and for a contributor:
#
#   eval "$(.ci/redis.sh start)"   # installs redis-server if missing, starts it, prints exports
#   cargo test -p auth-store-redis
#   .ci/redis.sh stop
#
# It serves plain TCP on 127.0.0.1:$REDIS_PORT (default 6390) and TLS on the next port, with
# a throwaway CA made here, and has an ACL user `fleet` beside the default one. Nothing is
# persisted (--save '' --appendonly no). The exports name the URLs, the CA and the ACL
# password; they point at a test server only and are generated for each start.
set -euo pipefail

PORT="${REDIS_PORT:-6390}"
TLS_PORT="$((PORT + 1))"
DIR="${REDIS_DIR:-${TMPDIR:-/tmp}/vendor-auth-redis-${PORT}}"
ACL_USER="fleet"

log() { echo "redis.sh: $*" >&2; }

install() {
    if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
        return
    fi
    log "installing redis-server from the system packages"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq redis-server >/dev/null 2>&1; then
        apt-get update -qq >&2
        apt-get install -y -qq redis-server >&2
    fi
}

tls_material() {
    [ -f "$DIR/ca.crt" ] && [ -f "$DIR/server.crt" ] && return
    openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=vendor-auth test CA" \
        -keyout "$DIR/ca.key" -out "$DIR/ca.crt" >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout "$DIR/server.key" -out "$DIR/server.csr" >/dev/null 2>&1
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$DIR/server.ext"
    openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" \
        -CAcreateserial -days 7 -extfile "$DIR/server.ext" -out "$DIR/server.crt" >/dev/null 2>&1
}

start() {
    install
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    if [ ! -f "$DIR/acl-password" ]; then
        head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$DIR/acl-password"
    fi
    local password
    password="$(cat "$DIR/acl-password")"
    if ! redis-cli -p "$PORT" ping >/dev/null 2>&1; then
        local tls_args=()
        if command -v openssl >/dev/null 2>&1; then
            tls_material
            tls_args=(--tls-port "$TLS_PORT" --tls-cert-file "$DIR/server.crt"
                --tls-key-file "$DIR/server.key" --tls-ca-cert-file "$DIR/ca.crt"
                --tls-auth-clients no)
        fi
        redis-server --bind 127.0.0.1 --port "$PORT" "${tls_args[@]}" \
            --save '' --appendonly no --daemonize yes --dir "$DIR" \
            --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" \
            --user "$ACL_USER" on ">$password" '~*' '&*' '+@all' >&2
        for _ in $(seq 1 50); do
            redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
            sleep 0.1
        done
        if ! redis-cli -p "$PORT" ping >/dev/null 2>&1; then
            log "redis-server did not start; its log:"
            tail -20 "$DIR/redis.log" >&2 || true
            exit 1
        fi
        log "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on 127.0.0.1:$PORT"
    fi
    echo "export REDIS_URL=redis://127.0.0.1:$PORT"
    echo "export REDIS_ACL_USER=$ACL_USER"
    echo "export REDIS_ACL_PASSWORD=$password"
    if [ -f "$DIR/ca.crt" ]; then
        echo "export REDIS_TLS_URL=rediss://127.0.0.1:$TLS_PORT"
        echo "export REDIS_TLS_CA=$DIR/ca.crt"
    fi
}

stop() {
    if redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1; then
        log "stopped the redis-server on 127.0.0.1:$PORT"
    elif [ -f "$DIR/redis.pid" ]; then
        kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true
    fi
    rm -f "$DIR/redis.pid"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: .ci/redis.sh start|stop (REDIS_PORT, REDIS_DIR to change where)" >&2
        exit 2
        ;;
esac
