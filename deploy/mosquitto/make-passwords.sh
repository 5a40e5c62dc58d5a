#!/bin/sh
# Builds what Mosquitto authenticates and authorises with, in a volume shared with the broker:
# the mosquitto-passwords service of docker-compose.yml runs it (image eclipse-mosquitto:2) on
# `docker compose up`, and mosquitto starts only after it exits 0. Run again after changing a
# password or the ACL (`docker compose run --rm mosquitto-passwords`), then reload the broker
# without dropping sessions: `docker compose kill -s HUP mosquitto`.
#
#   passwd  hashed entries (mosquitto_passwd, PBKDF2-SHA512); plain passwords never touch a disk:
#     ingest       KERBSIDE_MQTT_INGEST_PASSWORD (required; compose refuses to start without it)
#     chirpstack   KERBSIDE_MQTT_CHIRPSTACK_PASSWORD   } optional: unset or empty means the user
#     tts          KERBSIDE_MQTT_TTS_PASSWORD          } does not exist and cannot log in
#     signs        KERBSIDE_MQTT_SIGNS_PASSWORD        }
#     healthcheck  random, made once and kept in healthcheck.secret for the compose healthcheck
#                  (kept, so a rerun does not lock out the check of a broker not yet reloaded)
#     one user per native sensor (user name = sensor id), taken as they are from the optional
#     $MOSQUITTO_SENSORS_FILE (default deploy/mosquitto/sensors.passwd, git-ignored), which holds
#     entries already hashed, e.g. `mosquitto_passwd -b deploy/mosquitto/sensors.passwd bay-0001 PW`
#     (add -c for a new file). The service users above win over a sensor entry of the same name.
#   acl     a copy of deploy/mosquitto/acl
#
# Both files are owned by the broker's user and private to it: Mosquitto 2.0.16+ warns (later
# versions refuse) about world-readable or foreign-owned password and ACL files, and a read-only
# bind mount from the host could not be fixed up. Files are replaced atomically, so a broker
# reloading on SIGHUP never reads half a file. Paths can be overridden for tests.
set -eu

AUTH_DIR=${MOSQUITTO_AUTH_DIR:-/mosquitto/auth}
DEPLOY_DIR=${MOSQUITTO_DEPLOY_DIR:-/deploy}
SENSORS_FILE=${MOSQUITTO_SENSORS_FILE:-$DEPLOY_DIR/sensors.passwd}

umask 077
mkdir -p "$AUTH_DIR"
passwd_new="$AUTH_DIR/passwd.new"
acl_new="$AUTH_DIR/acl.new"
secret_new="$AUTH_DIR/healthcheck.secret.new"
rm -f "$passwd_new" "$acl_new" "$secret_new"

if [ -f "$SENSORS_FILE" ]; then
    # Keep user:hash lines only; anything else would make the broker refuse the whole file. A
    # user name with / + or # is no sensor id and would widen the ACL pattern: dropped too.
    grep -E '^[^:#+/[:space:]]+:\$[0-9]+\$' "$SENSORS_FILE" > "$passwd_new" || true
    echo "mosquitto-passwords: $(wc -l < "$passwd_new") sensor users from $SENSORS_FILE"
else
    : > "$passwd_new"
fi

add_user() {  # add_user NAME PASSWORD: skipped when the password is empty
    if [ -n "$2" ]; then
        mosquitto_passwd -b "$passwd_new" "$1" "$2"
        echo "mosquitto-passwords: user $1"
    fi
}

if [ -z "${KERBSIDE_MQTT_INGEST_PASSWORD:-}" ]; then
    echo "mosquitto-passwords: KERBSIDE_MQTT_INGEST_PASSWORD must be set" >&2
    exit 1
fi
add_user ingest "$KERBSIDE_MQTT_INGEST_PASSWORD"
add_user chirpstack "${KERBSIDE_MQTT_CHIRPSTACK_PASSWORD:-}"
add_user tts "${KERBSIDE_MQTT_TTS_PASSWORD:-}"
add_user signs "${KERBSIDE_MQTT_SIGNS_PASSWORD:-}"

# 24 random bytes as hex: no characters a shell or mosquitto_passwd could trip over.
if [ -s "$AUTH_DIR/healthcheck.secret" ]; then
    healthcheck_password=$(cat "$AUTH_DIR/healthcheck.secret")
else
    healthcheck_password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
fi
printf '%s\n' "$healthcheck_password" > "$secret_new"
add_user healthcheck "$healthcheck_password"

cp "$DEPLOY_DIR/acl" "$acl_new"

# The broker drops root for the `mosquitto` user (uid 1883 in the image) before it reads these.
if [ "$(id -u)" = 0 ] && id mosquitto > /dev/null 2>&1; then
    chown mosquitto:mosquitto "$AUTH_DIR" "$passwd_new" "$acl_new" "$secret_new"
fi
chmod 0700 "$AUTH_DIR"
chmod 0600 "$passwd_new" "$acl_new" "$secret_new"
mv -f "$passwd_new" "$AUTH_DIR/passwd"
mv -f "$acl_new" "$AUTH_DIR/acl"
mv -f "$secret_new" "$AUTH_DIR/healthcheck.secret"
echo "mosquitto-passwords: wrote $AUTH_DIR/passwd and $AUTH_DIR/acl"
