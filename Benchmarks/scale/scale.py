#!/usr/bin/env python3
"""The scale run behind Benchmarks/scale/run (see there for what it measures).

Starts a 3-member etcd, N discod processes with -consensus etcd (and, as the anchor, N with
embedded Raft), measures formation, kills K nodes at once, measures convergence and memory, and
kills every process it started on exit, whatever happens.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

FORM_TIMEOUT = 300.0
CONVERGE_TIMEOUT = 180.0
POLL = 0.5

parser = argparse.ArgumentParser()
parser.add_argument("--discod", required=True)
parser.add_argument("--nodes", type=int, default=100)
parser.add_argument("--kill", type=int, default=10)
parser.add_argument("--sample", type=int, default=5)
parser.add_argument("--no-anchor", action="store_true")
parser.add_argument("--seed", type=int, default=None)
args = parser.parse_args()
if not (4 <= args.nodes <= 500 and 1 <= args.kill <= args.nodes - 3 and 1 <= args.sample <= args.nodes - args.kill):
    sys.exit("need 4 <= --nodes <= 500, 1 <= --kill <= nodes-3, 1 <= --sample <= nodes-kill")
rng = random.Random(args.seed)
work = tempfile.mkdtemp(prefix="scale-bench.")
children = []  # every process started, killed on exit


def log(message):
    print(message, file=sys.stderr, flush=True)


def cleanup():
    for process in children:
        if process.poll() is None:
            process.kill()
    for process in children:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    keep = os.environ.get("SCALE_KEEP")
    if keep:
        os.makedirs(keep, exist_ok=True)
        for root, _, files in os.walk(work):
            for name in files:
                if name.endswith(".log"):
                    shutil.copy(os.path.join(root, name), os.path.join(keep, os.path.basename(root) + "-" + name))
    shutil.rmtree(work, ignore_errors=True)


def free_ports(count):
    """Ports free for TCP and UDP on 127.0.0.1 (discod's Raft port carries SWIM's UDP too)."""
    held, ports = [], []
    while len(ports) < count:
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(("127.0.0.1", port))
        except OSError:
            tcp.close()
            continue
        held += [tcp, udp]
        ports.append(port)
    for sock in held:
        sock.close()
    return ports


def http(method, url, body=None, timeout=3.0):
    """(status, parsed JSON or None); status 0 when the request failed."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"null")
        except ValueError:
            return error.code, None
    except (OSError, ValueError):
        return 0, None


def spawn(command, log_path):
    with open(log_path, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    children.append(process)
    return process


def fail(message, nodes=()):
    log("scale: " + message)
    for node in list(nodes)[:3]:
        log(f"--- {node['id']} ({node['url']}) last output:")
        try:
            with open(node["log"], "rb") as handle:
                log(b"".join(handle.readlines()[-10:]).decode(errors="replace"))
        except OSError:
            pass
    raise SystemExit(1)


def start_etcd():
    ports = free_ports(6)
    peers = ",".join(f"s{i}=http://127.0.0.1:{ports[3 + i]}" for i in range(3))
    endpoints = [f"http://127.0.0.1:{ports[i]}" for i in range(3)]
    for i in range(3):
        data = os.path.join(work, f"etcd{i}")
        os.makedirs(data, mode=0o700)
        spawn(["etcd", "--name", f"s{i}", "--data-dir", data,
               "--listen-client-urls", endpoints[i], "--advertise-client-urls", endpoints[i],
               "--listen-peer-urls", f"http://127.0.0.1:{ports[3 + i]}",
               "--initial-advertise-peer-urls", f"http://127.0.0.1:{ports[3 + i]}",
               "--initial-cluster", peers, "--initial-cluster-state", "new",
               "--initial-cluster-token", f"scale-{os.getpid()}", "--log-level", "warn", "--logger", "zap",
               "--log-outputs", "stderr"], os.path.join(data, "etcd.log"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(http("GET", e + "/health")[1] == {"health": "true"} for e in endpoints):
            return endpoints
        time.sleep(0.2)
    fail("the 3-member etcd did not become healthy within 60 s")


def start_nodes(kind, count, endpoints):
    """Spawns `count` discod processes at once; returns (t0, nodes)."""
    ports = free_ports(2 * count)
    directory = os.path.join(work, kind)
    nodes = []
    for i in range(count):
        node = {"id": f"node{i}", "url": f"http://127.0.0.1:{ports[i]}", "raft": f"127.0.0.1:{ports[count + i]}",
                "data": os.path.join(directory, f"data{i}"), "log": os.path.join(directory, f"node{i}.log"), "voter": i < 3}
        os.makedirs(node["data"], mode=0o700)
        nodes.append(node)
    join = ",".join(n["url"] for n in nodes[:3])
    engine = []
    if kind == "etcd":
        engine = ["-consensus", "etcd", "-consensus-config", json.dumps({"endpoints": endpoints}), "-disco-key", "scale"]
    t0 = time.monotonic()
    for node in nodes:
        role = ["-bootstrap-expect", "3"] if node["voter"] else ["-raft-non-voter", "-join-attempts", "1000", "-join-interval", "1s"]
        node["process"] = spawn([args.discod, "-node-id", node["id"], "-http-addr", node["url"][len("http://"):],
                                 "-raft-addr", node["raft"], *engine, *role, "-join", join, "-reap-learner-timeout", "10s",
                                 node["data"]], node["log"])
    return t0, nodes


def check_running(nodes):
    dead = [n for n in nodes if n["process"].poll() is not None]
    if dead:
        fail(f"{len(dead)} node(s) exited: " + ", ".join(f"{n['id']} (status {n['process'].returncode})" for n in dead), dead)


def sample_of(nodes):
    """`args.sample` nodes at random, at least one voter among them when one is there."""
    voters = [n for n in nodes if n["voter"]]
    picked = rng.sample(voters, 1) if voters else []
    rest = [n for n in nodes if n not in picked]
    return picked + rng.sample(rest, args.sample - len(picked))


def sees_all(node, ids):
    status, rows = http("GET", node["url"] + "/nodes")
    if status != 200 or not isinstance(rows, list):
        return False
    return {r.get("id") for r in rows if r.get("reachable")} >= ids and len(rows) == len(ids)


def formation(kind, endpoints):
    t0, nodes = start_nodes(kind, args.nodes, endpoints)
    ids = {n["id"] for n in nodes}
    sample = sample_of(nodes)
    log(f"{kind}: {len(nodes)} nodes spawned; sampling {', '.join(n['id'] for n in sample)}")
    pending = list(sample)
    last_report = 0.0
    while pending:
        elapsed = time.monotonic() - t0
        if elapsed > FORM_TIMEOUT:
            fail(f"{kind}: sampled nodes still miss members after {FORM_TIMEOUT:.0f} s: "
                 + ", ".join(n["id"] for n in pending), pending)
        check_running(nodes)
        pending = [n for n in pending if not sees_all(n, ids)]
        if pending and elapsed - last_report > 10:
            last_report = elapsed
            status, rows = http("GET", pending[0]["url"] + "/nodes")
            seen = len([r for r in rows if r.get("reachable")]) if status == 200 and isinstance(rows, list) else "-"
            log(f"{kind}: {elapsed:.0f} s, {pending[0]['id']} sees {seen} reachable of {len(ids)}")
        if pending:
            time.sleep(POLL)
    return time.monotonic() - t0, nodes


def memory(nodes):
    """(VmRSS MiB, VmHWM MiB) of each live node."""
    figures = []
    for node in nodes:
        values = {}
        try:
            with open(f"/proc/{node['process'].pid}/status") as status:
                for line in status:
                    if line.startswith(("VmRSS:", "VmHWM:")):
                        values[line.split(":")[0]] = int(line.split()[1]) / 1024
        except OSError:
            continue
        if len(values) == 2:
            figures.append((values["VmRSS"], values["VmHWM"]))
    return figures


def leader_of(nodes):
    for node in rng.sample(nodes, len(nodes)):
        status, body = http("GET", node["url"] + "/leader")
        if status == 200 and isinstance(body, dict) and body.get("id"):
            return body["id"]
    return None


def converged(node, dead_ids, dead_leader, marker):
    status, rows = http("GET", node["url"] + "/nodes")
    if status != 200 or not isinstance(rows, list):
        return False
    for row in rows:
        if row.get("id") in dead_ids and (row.get("id") != dead_leader or row.get("reachable") or row.get("leader")):
            return False
    status, leader = http("GET", node["url"] + "/leader")
    if status != 200 or not isinstance(leader, dict) or leader.get("id") in dead_ids | {dead_leader, None}:
        return False
    if marker is None:
        return True
    status, body = http("GET", f"{node['url']}/events?since={marker['seq'] - 1}&limit=1")
    events = body.get("events") if status == 200 and isinstance(body, dict) else None
    return bool(events) and marker["value"] in json.dumps(events)


def kill_and_converge(nodes):
    leader = leader_of(nodes)
    if leader is None:
        fail("no node names a leader after formation", nodes)
    by_id = {n["id"]: n for n in nodes}
    learners = [n for n in nodes if not n["voter"] and n["id"] != leader]
    victims = [by_id[leader]] + rng.sample(learners, args.kill - 1)
    dead_ids = {n["id"] for n in victims}
    t1 = time.monotonic()
    for victim in victims:
        victim["process"].send_signal(signal.SIGKILL)
    for victim in victims:
        victim["process"].wait()
    survivors = [n for n in nodes if n["id"] not in dead_ids]
    sample = sample_of(survivors)
    log(f"killed {len(victims)} (leader {leader} and {args.kill - 1} learners); sampling "
        + ", ".join(n["id"] for n in sample))
    marker = None
    pending = list(sample)
    last_report = 0.0
    while True:
        elapsed = time.monotonic() - t1
        if elapsed > CONVERGE_TIMEOUT:
            fail(f"the survivors did not converge within {CONVERGE_TIMEOUT:.0f} s: "
                 + ", ".join(n["id"] for n in pending), pending)
        check_running(survivors)
        if marker is None:
            value = f"scale-{os.getpid()}-{time.time_ns()}"
            status, body = http("POST", sample[0]["url"] + "/events", {"scale": value}, timeout=10)
            if status == 200 and isinstance(body, dict) and isinstance(body.get("seq"), int):
                marker = {"seq": body["seq"], "value": value}
                log(f"write accepted through {sample[0]['id']} after {elapsed:.1f} s (seq {body['seq']})")
        pending = [n for n in sample if not converged(n, dead_ids, leader, marker)]
        if marker is not None and not pending:
            return time.monotonic() - t1, survivors, leader
        if elapsed - last_report > 10:
            last_report = elapsed
            status, rows = http("GET", sample[0]["url"] + "/nodes")
            left = len([r for r in rows if r.get("id") in dead_ids]) if status == 200 and isinstance(rows, list) else "-"
            log(f"{elapsed:.0f} s after the kill: {sample[0]['id']} still lists {left} of the killed")
        time.sleep(POLL)


def stop(nodes):
    for node in nodes:
        if node["process"].poll() is None:
            node["process"].kill()
    for node in nodes:
        node["process"].wait()


def main():
    endpoints = start_etcd()
    log(f"etcd: 3 members healthy at {', '.join(endpoints)}")
    formed, nodes = formation("etcd", endpoints)
    log(f"etcd engine: all {args.nodes} in /nodes of the sampled nodes after {formed:.2f} s")
    formed_memory = memory(nodes)
    convergence, survivors, leader = kill_and_converge(nodes)
    log(f"converged {convergence:.2f} s after the kill")
    final_memory = memory(survivors)
    etcd_rss = 0.0
    for process in children[:3]:
        try:
            with open(f"/proc/{process.pid}/status") as status:
                etcd_rss += next(int(l.split()[1]) for l in status if l.startswith("VmRSS:")) / 1024
        except (OSError, StopIteration):
            pass
    stop(nodes)

    anchor = None
    if not args.no_anchor:
        anchor, raft_nodes = formation("raft", endpoints)
        log(f"embedded Raft: all {args.nodes} in /nodes of the sampled nodes after {anchor:.2f} s")
        stop(raft_nodes)

    rss_formed = [r for r, _ in formed_memory]
    peaks = [h for _, h in final_memory]
    rss_final = [r for r, _ in final_memory]
    print(f"scale-formation: {args.nodes} discod -consensus etcd, 3-member etcd: {formed:.2f} s")
    print(f"scale-convergence: {args.kill} killed at once (leader {leader} + {args.kill - 1} learners): {convergence:.2f} s")
    print(f"scale-rss-formed: per node median {sorted(rss_formed)[len(rss_formed) // 2]:.1f} MiB, "
          f"max {max(rss_formed):.1f} MiB, total {sum(rss_formed):.0f} MiB ({len(rss_formed)} nodes)")
    print(f"scale-rss-peak: per node max VmHWM {max(peaks):.1f} MiB, median {sorted(peaks)[len(peaks) // 2]:.1f} MiB; "
          f"total VmRSS {sum(rss_final):.0f} MiB ({len(rss_final)} survivors); etcd members {etcd_rss:.0f} MiB")
    if anchor is None:
        print(f"scale: ours={formed:.2f} anchor=n/a ratio=n/a")
    else:
        print(f"scale: ours={formed:.2f} anchor={anchor:.2f} ratio={formed / anchor:.2f}")


try:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    main()
finally:
    cleanup()
