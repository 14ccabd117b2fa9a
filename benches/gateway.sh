#!/usr/bin/env bash
# End-to-end throughput of gatewayd serve, fsync on (WAL, synchronous=FULL, every
# received copy and outbox file fsynced): files dropped into a partner inbox the way an
# SFTP client does (NAME.part, then rename), timed until every interchange is
# acknowledged (TA1/999 in the outbox) and its items are queued (ready to lease).
#
#   bash benches/gateway.sh            # 20 837P batches of 1,000 claims, 20 278 files
#   FILES_837=40 FILES_278=10 CLAIMS=1000 SIZE_278=500KB bash benches/gateway.sh
#   GATEWAYD=/path/to/other/gatewayd bash benches/gateway.sh   # compare another build
#
# Prints files/s, transactions/s and claims/s (278: requests/s) per phase. A benchmark,
# not a test: nothing here fails on a slow machine. Needs curl.
set -euo pipefail
cd "$(dirname "$0")/.."

FILES_837=${FILES_837:-20}
CLAIMS=${CLAIMS:-1000}
FILES_278=${FILES_278:-20}
SIZE_278=${SIZE_278:-500KB}
PORT=${PORT:-18431}

cargo build --release -q -p gatewayd --bin gatewayd
cargo build --release -q -p fixtures --bin gen
bin=target/release

work=$(mktemp -d "${TMPDIR:-/tmp}/gatewayd-bench.XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

# inputs: each file its own ISA13 (the generator derives it from the seed)
mkdir -p "$work/in837" "$work/in278"
sets837=0; claims837=0; bytes837=0
for i in $(seq 1 "$FILES_837"); do
    # one transaction set of CLAIMS claims (the generator closes the set, then stops)
    line=$("$bin/gen" 837p --size 1 --claims-per-set "$CLAIMS" --seed "$i" \
        -o "$work/in837/b$i.x12" 2>&1)
    set -- $(sed -E 's/^gen: ([0-9]+) bytes, [0-9]+ group\(s\), ([0-9]+) transaction set\(s\), ([0-9]+) claim.*/\1 \2 \3/' <<<"$line")
    bytes837=$((bytes837 + $1)); sets837=$((sets837 + $2)); claims837=$((claims837 + $3))
done
sets278=0; bytes278=0
for i in $(seq 1 "$FILES_278"); do
    line=$("$bin/gen" 278 --size "$SIZE_278" --sets-per-group 100 --seed $((500 + i)) \
        -o "$work/in278/r$i.x12" 2>&1)
    set -- $(sed -E 's/^gen: ([0-9]+) bytes, [0-9]+ group\(s\), ([0-9]+) transaction set\(s\).*/\1 \2/' <<<"$line")
    bytes278=$((bytes278 + $1)); sets278=$((sets278 + $2))
done

cat >"$work/gatewayd.toml" <<TOML
data_dir = "$work/var"
[http]
listen = "127.0.0.1:$PORT"
[limits]
settle_ms = 0
rescan_ms = 100
max_file_bytes = 1073741824
max_sets_per_file = 1000000
[[partner]]
id = "bench"
TOML
"${GATEWAYD:-$bin/gatewayd}" serve --config "$work/gatewayd.toml" 2>"$work/gatewayd.log" &
pid=$!
for _ in $(seq 1 200); do
    curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.05
done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$work/gatewayd.log"; exit 1; }
inbox="$work/var/partners/bench/inbox"

# acknowledged and queued: the latency histogram counts an interchange once its
# acknowledgments are in the outbox and its items are ready
acked() {
    curl -fs "http://127.0.0.1:$PORT/metrics" |
        awk '$1 == "gatewayd_latency_seconds_count" { print $2 }'
}

# gatewayd's CPU seconds so far (user + system), from /proc: the machine is shared, so
# the wall clock alone says less than it seems
cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$pid/stat"
}

phase() { # name dir files sets claims bytes
    local name=$1 dir=$2 files=$3 sets=$4 claims=$5 bytes=$6
    local before target start end secs
    local cpu0 cpu1
    before=$(acked)
    target=$((before + files))
    # staged as *.part (not taken), then renamed all at once: the clock starts there
    for f in "$dir"/*.x12; do cp "$f" "$inbox/$(basename "$f").part"; done
    sync
    cpu0=$(cpu)
    start=$(date +%s.%N)
    for f in "$dir"/*.x12; do b=$(basename "$f"); mv "$inbox/$b.part" "$inbox/$b"; done
    while [ "$(acked)" -lt "$target" ]; do
        sleep 0.02
        if ! kill -0 "$pid" 2>/dev/null; then cat "$work/gatewayd.log"; exit 1; fi
    done
    end=$(date +%s.%N)
    cpu1=$(cpu)
    secs=$(echo "$end - $start" | bc -l)
    printf '%-4s %4d files %7d sets %8d claims/requests %7.1f MB in %6.2f s: %8.1f files/s %9.1f transactions/s %9.1f claims/s\n' \
        "$name" "$files" "$sets" "$claims" "$(echo "$bytes / 1000000" | bc -l)" "$secs" \
        "$(echo "$files / $secs" | bc -l)" "$(echo "$sets / $secs" | bc -l)" \
        "$(echo "$claims / $secs" | bc -l)"
    printf '     gatewayd used %.2f CPU s: %.1f claims/requests per CPU second\n' \
        "$(echo "$cpu1 - $cpu0" | bc -l)" "$(echo "$claims / ($cpu1 - $cpu0 + 0.001)" | bc -l)"
}

echo "gatewayd end to end, fsync on ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
phase 837P "$work/in837" "$FILES_837" "$sets837" "$claims837" "$bytes837"
phase 278 "$work/in278" "$FILES_278" "$sets278" "$sets278" "$bytes278"
depth=$(curl -fs "http://127.0.0.1:$PORT/metrics" |
    awk '/^gatewayd_queue_depth/ && /state="ready"/ { n += $2 } END { print n + 0 }')
answered=$(curl -fs "http://127.0.0.1:$PORT/metrics" |
    awk '/^gatewayd_answered_total/ { n += $2 } END { print n + 0 }')
echo "queued (ready): $depth items; answered by the gateway: $answered; outbox: $(ls "$work/var/partners/bench/outbox" | wc -l) files"
