#!/bin/sh
# Creates what docker-compose.yml mounts as secrets, once: the RS256 key pairs (user access tokens
# signed by the gateway; one pair per service for service-to-service tokens, decision 0003) and a
# self-signed TLS certificate for
# nginx until you put a real one in its place. Existing files are never overwritten, so running
# it again is safe; rotating a key is a documented procedure (docs/production.md), not a re-run.
#
#   deploy/scripts/secrets-init.sh [DIR] [HOSTNAME]     (defaults: deploy/secrets, localhost)
set -eu
DIR="${1:-$(dirname "$0")/../secrets}"
HOST="${2:-localhost}"
umask 077
mkdir -p "$DIR"
chmod 700 "$DIR"

keypair() {
    private="$DIR/$1_private.pem" public="$DIR/$1_public.pem"
    if [ ! -s "$private" ]; then
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$private" 2>/dev/null
        echo "created $private"
    fi
    if [ ! -s "$public" ]; then
        openssl pkey -in "$private" -pubout -out "$public"
        echo "created $public"
    fi
}

keypair jwt
for service in gateway transaction wallet ledger history; do
    keypair "service_$service"
done

if [ ! -s "$DIR/tls_cert.pem" ] || [ ! -s "$DIR/tls_key.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$HOST" \
        -addext "subjectAltName=DNS:$HOST" \
        -keyout "$DIR/tls_key.pem" -out "$DIR/tls_cert.pem" 2>/dev/null
    echo "created a self-signed certificate for $HOST (30 days): replace $DIR/tls_cert.pem and tls_key.pem"
fi

# The containers run as uid 10001, not as you: the files must be readable by it. The directory
# (mode 700) is what keeps other users of this host out.
chmod 644 "$DIR"/*.pem
