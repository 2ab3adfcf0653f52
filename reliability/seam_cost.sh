#!/usr/bin/env bash
# What the fault-injection seam costs a disk cache call when it is built in but unarmed, and
# when it is off (the default): instructions per call counted by callgrind (stable on a noisy
# machine), for the probe built without and with the `fault-injection` feature. Writes
# reliability/seam-cost.md, which RELIABILITY.md includes.
#   Needs valgrind (Debian: apt-get install valgrind). Takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/seam-probe
mkdir -p "$out"
cargo build --quiet --release -p twat-cache-seam-probe
cp target/release/twat-cache-seam-probe "$out/off"
cargo build --quiet --release -p twat-cache-seam-probe --features fault-injection
cp target/release/twat-cache-seam-probe "$out/on"

# Instructions of one run: those executed inside the probe's `run` (the calls being measured),
# not the set-up nor other threads' (sled flushes in the background).
instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null --collect-atstart=no \
        --toggle-collect='*seam_probe::run*' "$@" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

# Instructions per call: (run with LONG calls − run with SHORT calls) / (LONG − SHORT).
per_call() {
    local binary=$1 kind=$2 short=$3 long=$4
    local a b
    a=$(instructions "$binary" "$kind" "$short")
    b=$(instructions "$binary" "$kind" "$long")
    echo $(( (b - a) / (long - short) ))
}

{
    echo "| call | seam off (default) | seam built in, unarmed | difference |"
    echo "|---|---:|---:|---:|"
    for spec in "fcache-hit 200 2200" "bcache-hit 2000 22000" "fcache-miss 100 600" "bcache-miss 500 5500"; do
        set -- $spec
        off=$(per_call "$out/off" "$1" "$2" "$3")
        on=$(per_call "$out/on" "$1" "$2" "$3")
        echo "| \`$1\` | $off | $on | $(( on - off )) ($(awk "BEGIN { printf \"%+.2f\", ($on - $off) * 100 / $off }")%) |"
    done
    echo
    echo "Functions of the seam (\`twat_cache_engines::fault::*\`) in the default build: $(nm -C "$out/off" | grep -c 'twat_cache_engines::fault::' || true); in the seam build: $(nm -C "$out/on" | grep -c 'twat_cache_engines::fault::' || true)."
} > reliability/seam-cost.md
cat reliability/seam-cost.md
