# shellcheck shell=bash
# The local TLS certificate: self-signed for localhost and 127.0.0.1,
# made once per state directory and kept, so that a client told to trust
# it (curl --cacert var/tls/cert.pem) keeps working across restarts.
# Sourced by scripts/up after common.sh.

sbx_tls_ensure() {
    local dir
    dir=$(dirname "$SBX_TLS_CERT")
    mkdir -p "$dir" "$(dirname "$SBX_TLS_KEY")"
    chmod 0755 "$dir"
    if [ -s "$SBX_TLS_CERT" ] && [ -s "$SBX_TLS_KEY" ]; then
        return 0
    fi
    sbx_say "generating a self-signed certificate for localhost"
    # Only nginx's master (root) reads the key.
    (
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -days 825 -subj /CN=localhost \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -addext "extendedKeyUsage=serverAuth" \
            -keyout "$SBX_TLS_KEY.tmp" -out "$SBX_TLS_CERT.tmp" 2>/dev/null
    ) || sbx_die "openssl could not make the certificate"
    chmod 0644 "$SBX_TLS_CERT.tmp"
    mv "$SBX_TLS_KEY.tmp" "$SBX_TLS_KEY"
    mv "$SBX_TLS_CERT.tmp" "$SBX_TLS_CERT"
}
