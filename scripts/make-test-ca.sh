#!/usr/bin/env bash
# Makes a throw-away CA and certificates for trying TLS and mutual TLS between bt-cloud and bt-edge.
# NOT for production: keys are unencrypted and the CA lives next to them.
#
# Usage: scripts/make-test-ca.sh DIR [CLOUD_HOSTNAME] [EDGE_ID]
#   DIR/ca.pem, ca.key             the test CA
#   DIR/cloud.pem, cloud.key       bt-cloud's server certificate (SAN: CLOUD_HOSTNAME, localhost, 127.0.0.1)
#   DIR/edge.pem, edge.key         a client certificate for EDGE_ID (mutual TLS)
# Then, in cloud.yaml:  tls: {cert: DIR/cloud.pem, key: DIR/cloud.key, client_ca: DIR/ca.pem}  (client_ca: mTLS)
#      in edge.yaml:    tls: {ca: DIR/ca.pem, cert: DIR/edge.pem, key: DIR/edge.key}         (cert/key: mTLS)
set -euo pipefail
DIR="${1:?usage: $0 DIR [CLOUD_HOSTNAME] [EDGE_ID]}"
HOST="${2:-localhost}"
EDGE="${3:-edge-1}"
command -v openssl > /dev/null || { echo "openssl is missing (apt-get install openssl)"; exit 1; }
mkdir -p "$DIR"
cd "$DIR"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=BlockTrainer test CA" \
  -keyout ca.key -out ca.pem 2> /dev/null
sign() {  # sign NAME SUBJECT EXTENSIONS
  openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2> /dev/null
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile "$1.ext" \
    -out "$1.pem" 2> /dev/null
  rm -f "$1.csr" "$1.ext"
}
sign cloud "/CN=$HOST" "subjectAltName=DNS:$HOST,DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
sign edge "/CN=$EDGE" "extendedKeyUsage=clientAuth"
rm -f ca.srl
chmod 644 ca.pem cloud.pem edge.pem
echo "wrote $DIR/{ca,cloud,edge}.{pem,key} (CA valid 30 days; server name $HOST)"
