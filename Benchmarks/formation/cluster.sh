# Shared by Benchmarks/formation/run, Benchmarks/failover/run and Benchmarks/append/run (sourced
# from the repository root after `set -euo pipefail`): builds discod and disco-bench-node, starts
# 3-node discod or etcd clusters on 127.0.0.1 with fresh data directories, times writes with
# disco-bench-node, and kills every process it started on exit.
#
# A cluster that does not accept a write within NODE_BENCH_FORM_TIMEOUT seconds (default 30), or a
# node that exits before then, ends the run with a message naming the side and the nodes' output.
# NODE_BENCH_KEEP=dir keeps the nodes' logs there.

export LC_ALL=C  # $EPOCHREALTIME and awk use '.' as the decimal point
export PATH="$PATH:/usr/sbin:/sbin"
form_timeout="${NODE_BENCH_FORM_TIMEOUT:-30}"
[[ "$form_timeout" =~ ^[1-9][0-9]*$ ]] || { echo "NODE_BENCH_FORM_TIMEOUT must be whole seconds" >&2; exit 2; }

# MARK: tools

node_bench_setup() {
    if ! command -v etcd >/dev/null 2>&1; then
        local sudo_cmd=()
        [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
        "${sudo_cmd[@]}" apt-get update -qq
        "${sudo_cmd[@]}" apt-get install -y -qq etcd-server
    fi
    command -v python3 >/dev/null 2>&1 || { echo "python3 is needed to pick free ports" >&2; exit 1; }
    # One product per invocation: swift build builds only the last --product it is given.
    local product
    for product in discod disco-bench-node; do
        swift build -c release --product "$product" >"$work/build.log" 2>&1 \
            || { cat "$work/build.log" >&2; echo "building $product failed" >&2; exit 1; }
    done
    local bin
    bin="$(swift build -c release --show-bin-path)"
    # NODE_BENCH_DISCOD=path runs another discod build (the command line stays the same).
    discod_bin="${NODE_BENCH_DISCOD:-$bin/discod}"
    bench_bin="$bin/disco-bench-node"
    echo "etcd: $(etcd --version | head -n 1); discod: $discod_bin" >&2
}

work="$(mktemp -d "${TMPDIR:-/tmp}/node-bench.XXXXXX")"
node_bench_cleanup() {
    stop_cluster
    if [ -n "${NODE_BENCH_KEEP:-}" ]; then
        mkdir -p "$NODE_BENCH_KEEP" && find "$work" -name '*.log' -exec cp --backup=numbered {} "$NODE_BENCH_KEEP"/ \; 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap node_bench_cleanup EXIT
trap 'exit 130' INT TERM

# MARK: helpers

# free_ports N: N ports free for TCP and UDP on 127.0.0.1 (discod's Raft port carries SWIM's UDP too).
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
held, ports = [], []
while len(ports) < int(sys.argv[1]):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM); t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close(); continue
    held += [t, u]; ports.append(port)
print(" ".join(map(str, ports)))
for s in held: s.close()
PY
}

# select_sides ONLY: sets `sides` to the sides to measure, from --only (default both; ours first).
select_sides() {
    case "${1:-}" in
        "") sides=(disco etcd) ;;
        disco|etcd|disco-etcd) sides=("$1") ;;
        *) echo "--only takes disco, disco-etcd or etcd" >&2; exit 2 ;;
    esac
}

# print_last NAME OURS ANCHOR [FORMAT]: the last line; a side not measured prints "-".
print_last() {
    awk -v n="$1" -v o="$2" -v a="$3" -v f="${4:-%.3f}" 'BEGIN {
        os = (o == "" ? "-" : sprintf(f, o)); as = (a == "" ? "-" : sprintf(f, a))
        r = (o == "" || a == "" || a + 0 == 0) ? "-" : sprintf("%.2f", o / a)
        printf "%s: ours=%s anchor=%s ratio=%s\n", n, os, as, r }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# field NAME: the value of NAME=... in the key=value line on stdin.
field() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

side_name() {
    case "$1" in
        disco) echo "discod" ;;
        disco-etcd) echo "discod -consensus etcd" ;;
        *) echo "etcd" ;;
    esac
}

# MARK: one 3-node cluster at a time

c_kind=""
c_bench_kind=""  # what disco-bench-node talks to: disco (either engine) or etcd
c_dir=""
c_pid=()    # process IDs, index 0..2
c_url=()    # client URLs (discod HTTP API, etcd client URL)
c_live=()   # indexes of nodes not killed
c_t0=""     # $EPOCHREALTIME just before the first process was spawned
c_serial=0

# start_cluster KIND: three discod nodes (KIND=disco), three etcd members (KIND=etcd), or three
# discod nodes with -consensus etcd on three etcd members of their own (KIND=disco-etcd; the etcd
# members are processes 3..5, spawned first), spawned at once.
start_cluster() {
    c_kind="$1"
    c_bench_kind="$([ "$c_kind" = etcd ] && echo etcd || echo disco)"
    c_serial=$((c_serial + 1))
    c_dir="$work/$c_kind-$c_serial"
    mkdir -p "$c_dir"
    local ports
    read -r -a ports <<<"$(free_ports 12)"
    c_url=(); c_pid=(); c_live=(0 1 2)
    local i cmds=()
    for i in 0 1 2; do
        c_url[i]="http://127.0.0.1:${ports[i]}"
        mkdir -m 700 -p "$c_dir/data$i"
    done
    local join peers=""
    join="$(IFS=,; echo "${c_url[*]}")"
    for i in 0 1 2; do peers+="${peers:+,}e$i=http://127.0.0.1:${ports[i + 3]}"; done
    local engine=()
    if [ "$c_kind" = disco-etcd ]; then
        local etcd_peers="" endpoints=""
        for i in 0 1 2; do
            etcd_peers+="${etcd_peers:+,}s$i=http://127.0.0.1:${ports[i + 9]}"
            endpoints+="${endpoints:+,}\"http://127.0.0.1:${ports[i + 6]}\""
        done
        for i in 0 1 2; do
            mkdir -m 700 -p "$c_dir/etcd$i"
            etcd --name "s$i" --data-dir "$c_dir/etcd$i" \
                --listen-client-urls "http://127.0.0.1:${ports[i + 6]}" --advertise-client-urls "http://127.0.0.1:${ports[i + 6]}" \
                --listen-peer-urls "http://127.0.0.1:${ports[i + 9]}" --initial-advertise-peer-urls "http://127.0.0.1:${ports[i + 9]}" \
                --initial-cluster "$etcd_peers" --initial-cluster-state new --initial-cluster-token "store-$c_serial-$$" \
                --logger zap --log-outputs stderr --log-level warn >"$c_dir/etcd$i.log" 2>&1 &
            c_pid[i + 3]=$!
        done
        engine=(-consensus etcd -consensus-config "{\"endpoints\":[$endpoints]}" -disco-key bench)
    fi
    # Everything is prepared; only the spawning is timed.
    c_t0="$EPOCHREALTIME"
    for i in 0 1 2; do
        if [ "$c_kind" != etcd ]; then
            "$discod_bin" -node-id "node$i" -http-addr "127.0.0.1:${ports[i]}" -raft-addr "127.0.0.1:${ports[i + 3]}" \
                "${engine[@]}" ${BENCH_DISCOD_FLAGS:-} -bootstrap-expect 3 -join "$join" "$c_dir/data$i" >"$c_dir/node$i.log" 2>&1 &
        else
            etcd --name "e$i" --data-dir "$c_dir/data$i" \
                --listen-client-urls "${c_url[i]}" --advertise-client-urls "${c_url[i]}" \
                --listen-peer-urls "http://127.0.0.1:${ports[i + 3]}" --initial-advertise-peer-urls "http://127.0.0.1:${ports[i + 3]}" \
                --initial-cluster "$peers" --initial-cluster-state new --initial-cluster-token "bench-$c_serial-$$" \
                --logger zap --log-outputs stderr --log-level warn >"$c_dir/node$i.log" 2>&1 &
        fi
        c_pid[i]=$!
    done
}

stop_cluster() {
    local pid
    for pid in "${c_pid[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${c_pid[@]}"; do wait "$pid" 2>/dev/null || true; done
    c_pid=(); c_live=()
    if [ -n "$c_dir" ] && [ -d "$c_dir" ]; then
        if [ -n "${NODE_BENCH_KEEP:-}" ]; then
            mkdir -p "$NODE_BENCH_KEEP/$(basename "$c_dir")" && cp "$c_dir"/*.log "$NODE_BENCH_KEEP/$(basename "$c_dir")/" 2>/dev/null || true
        fi
        rm -rf "$c_dir"
    fi
}

# cluster_failed MESSAGE: names the side, shows each node's last output, exits 1.
cluster_failed() {
    echo "$(side_name "$c_kind"): $1" >&2
    local i
    for i in 0 1 2; do
        [ -f "$c_dir/node$i.log" ] || continue
        echo "--- node $i (${c_url[i]}) last output:" >&2
        tail -n 12 "$c_dir/node$i.log" >&2
    done
    exit 1
}

# live_urls: the client URLs of the nodes not killed, comma-separated.
live_urls() {
    local i out=""
    for i in "${c_live[@]}"; do out+="${out:+,}${c_url[i]}"; done
    echo "$out"
}

# run_watched LIMIT_S DESCRIPTION COMMAND...: runs a disco-bench-node command in the background
# while checking that every live node is still running; its output goes to $work/watched.out. A
# node that exits, or the command failing, ends the run through cluster_failed. The command is
# bounded by its own -timeout; LIMIT_S (plus a margin) is the last resort.
# Call these helpers directly, never in $(...): they set globals and must exit the main shell.
run_watched() {
    local limit="$1" what="$2"; shift 2
    "$@" >"$work/watched.out" 2>"$work/watched.err" &
    local watched=$! deadline=$((SECONDS + limit + 5)) i
    while kill -0 "$watched" 2>/dev/null; do
        for i in "${c_live[@]}"; do
            if ! kill -0 "${c_pid[i]}" 2>/dev/null; then
                local status=0
                wait "${c_pid[i]}" 2>/dev/null || status=$?
                kill "$watched" 2>/dev/null || true
                wait "$watched" 2>/dev/null || true
                cluster_failed "node $i exited (status $status) while waiting for $what"
            fi
        done
        if [ "$SECONDS" -gt "$deadline" ]; then
            kill "$watched" 2>/dev/null || true
            wait "$watched" 2>/dev/null || true
            cluster_failed "no answer within $limit s while waiting for $what"
        fi
        sleep 0.02
    done
    if ! wait "$watched"; then
        cluster_failed "$what failed: $(cat "$work/watched.err")"
    fi
}

# first_write SINCE: sets `elapsed` to the seconds from SINCE (epoch) until the first write
# accepted by a live node.
first_write() {
    run_watched "$form_timeout" "the first accepted write (POST to $(live_urls))" \
        "$bench_bin" wait-write -urls "$(live_urls)" -kind "$c_bench_kind" -since "$1" -timeout "${form_timeout}s"
    elapsed="$(field elapsed <"$work/watched.out")"
}

# find_leader: sets `leader` to the index (0..2) of the node every live node names as leader.
find_leader() {
    run_watched "$form_timeout" "all nodes to agree on a leader" \
        "$bench_bin" leader -urls "$(live_urls)" -kind "$c_bench_kind" -timeout "${form_timeout}s"
    local position
    position="$(field index <"$work/watched.out")"
    leader="${c_live[position]}"
}
