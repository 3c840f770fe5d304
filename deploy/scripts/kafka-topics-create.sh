#!/bin/sh
# One-shot job (docker-compose.yml `kafka-init`, apache/kafka image): creates every topic before
# any service connects, so no client's metadata request can auto-create one with the broker's
# defaults. Idempotent (--if-not-exists). The list is walletkit.events.ALL_TOPICS
# (tests/test_deploy.py fails if they drift apart).
#
# Env: KAFKA_BOOTSTRAP_SERVERS, KAFKA_PARTITIONS, KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS,
#      KAFKA_RETENTION_MS (event topics), KAFKA_DLQ_RETENTION_MS (dead-letter topics).
set -eu
TOPICS="wallet.events ledger.events transaction.events"
DLQ_TOPICS="wallet.events.dlq ledger.events.dlq transaction.events.dlq"
BIN=/opt/kafka/bin

create() {
    "$BIN/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" --create --if-not-exists \
        --topic "$1" \
        --partitions "$KAFKA_PARTITIONS" \
        --replication-factor "$KAFKA_REPLICATION_FACTOR" \
        --config min.insync.replicas="$KAFKA_MIN_INSYNC_REPLICAS" \
        --config retention.ms="$2" \
        --config cleanup.policy=delete \
        --config unclean.leader.election.enable=false
}

for topic in $TOPICS; do
    create "$topic" "$KAFKA_RETENTION_MS"
done
for topic in $DLQ_TOPICS; do
    create "$topic" "$KAFKA_DLQ_RETENTION_MS"
done
for topic in $TOPICS $DLQ_TOPICS; do
    "$BIN/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" --describe --topic "$topic" | head -n 1
done
