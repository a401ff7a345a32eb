#!/usr/bin/env python3
"""bench/compare.d/report.py: the Python half of bench/compare.

  bodies DIR CHUNKS            request bodies of the workloads (small, large, burst, paced, mem150k)
  answer-shape FILE            bytes, SSE events, content events, usage events, [DONE] of an answer
  rusage OUT CMD...            runs CMD; writes its children's CPU time (getrusage) to OUT
  cell JSONL STEM K=V...       records one loadgen cell (STEM.json/.err/.rusage), prints a line
  memory JSONL STEM K=V...     records one memory scenario (STEM.json from loadgen)
  instructions JSONL TMP K=V... Ir per request from TMP/callgrind.out.PID.K
  wrk-lua BODY                 a wrk script sending BODY (for the loadgen/wrk check)
  check TMP DELAY_MS           the loadgen/wrk check: exit 1 when req/s differ by more than 10 %
  report STEM                  STEM.json, STEM.md and STEM.plot.dat from $TMP (see tables.py)
  variant-meta, variant-config the feature variants (see variants.py)
"""
import json
import os
import re
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SYSTEM = "You are a concise assistant. Answer in plain prose."
QUESTION = ("Summarise the trade-offs of io_uring against epoll for a proxy that forwards many small "
            "HTTP requests, in about two hundred words.")


def chat_body(model, user, stream):
    body = {"model": model, "messages": [{"role": "system", "content": SYSTEM},
                                         {"role": "user", "content": user}],
            "max_tokens": 256, "temperature": 0.2}
    if stream:
        body["stream"] = True
    return json.dumps(body, separators=(",", ":"))


def prompt_of(size):
    """A deterministic English-like prompt of about SIZE bytes ending with the question."""
    words = ("the gateway forwards each request to the provider and relays the answer while it "
             "counts tokens spends budget and keeps the connection pool warm").split()
    out, n, i = [], 0, 0
    while n < size - len(QUESTION) - 1:
        w = words[i % len(words)]
        out.append(w)
        n += len(w) + 1
        i += 1
    return " ".join(out) + " " + QUESTION


def bodies(directory):
    os.makedirs(directory, exist_ok=True)
    files = {"small": chat_body("mock-small", QUESTION, False),
             "large": chat_body("mock-small", prompt_of(50 * 1024), False),
             "burst": chat_body("mock-small", QUESTION, True),
             "paced": chat_body("mock-paced", QUESTION, True),
             "mem150k": chat_body("mock-small", prompt_of(150 * 1024), False),
             "memstream": chat_body("mock-paced", QUESTION, True)}
    for name, body in files.items():
        with open(os.path.join(directory, name + ".json"), "w") as f:
            f.write(body)


def answer_shape(path):
    data = open(path, "rb").read() if os.path.exists(path) else b""
    # The mock numbers its answers (chatcmpl-mock-N): normalise N so sizes compare across arms.
    data = re.sub(rb"chatcmpl-mock-\d+", b"chatcmpl-mock-0", data)
    text = data.decode("utf-8", "replace")
    events = [l for l in text.split("\n") if l.startswith("data:")]
    content = [l for l in events if re.search(r'"delta":\{[^}]*"content":"[^"]', l)]
    usage = [l for l in events if '"usage":{' in l.replace(" ", "")]
    done = any(l.strip() == "data: [DONE]" for l in events)
    print(len(data), len(events), len(content), len(usage), int(done))


def rusage(out, cmd):
    rc = subprocess.call(cmd)
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        json.dump({"user_s": r.ru_utime, "sys_s": r.ru_stime, "maxrss_kb": r.ru_maxrss}, f)
    sys.exit(rc)


def load_json(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return json.loads(text) if text else None
    except (OSError, ValueError):
        return None


def errors_of(lg, alive, rc):
    """Every way a cell can have gone wrong, as a dict of counts (empty = clean)."""
    e = {}
    if lg is None:
        e["no_output"] = 1
        if rc:
            e["loadgen_exit"] = rc
    else:
        for k, v in (lg.get("errors") or {}).items():
            if v:
                e[k] = v
        bad = sum(v for k, v in (lg.get("status") or {}).items() if k != "200")
        if bad:
            e["non_200"] = bad
        if lg.get("mismatches"):
            e["mismatches"] = lg["mismatches"]
        if (lg.get("stream") or {}).get("truncated"):
            e["truncated"] = lg["stream"]["truncated"]
        if not lg.get("requests"):
            e["no_requests"] = 1
    if not alive:
        e["proxy_exited"] = 1
    return e


def cell(jsonl, stem, kv):
    c = dict(x.split("=", 1) for x in kv)
    w, a, ph, rnd = c["workload"], c["arm"], c["phase"], c["round"]
    for k in ("proxy_cpu_ns", "mock_cpu_ns", "proxy_rss_kb", "alive", "rc", "chunks"):
        c[k] = int(c[k])
    lg = load_json(stem + ".json")
    ru = load_json(stem + ".rusage") or {}
    err_text = open(stem + ".err").read()[-400:] if os.path.exists(stem + ".err") else ""
    c["loadgen"] = lg
    c["loadgen_cpu_s"] = round(ru.get("user_s", 0) + ru.get("sys_s", 0), 4)
    c["errors"] = errors_of(lg, c["alive"], c["rc"])
    if rnd == "warmup":
        c["errors"].pop("no_requests", None)  # a short warm-up may end before a paced stream does
    if c["errors"]:
        c["loadgen_stderr"] = err_text
    n = (lg or {}).get("requests") or 0
    lat = (lg or {}).get("latency_us") or {}
    cpu = f"{c['proxy_cpu_ns'] / 1e3 / n:8.2f}" if n and a != "direct" else "       -"
    line = (f"  {w:6} {ph:6} {a:8} {n:8} req {((lg or {}).get('rps') or 0):9.0f} req/s  "
            f"p50 {lat.get('p50', 0):8.0f} p99 {lat.get('p99', 0):8.0f} us  proxy {cpu} us/req")
    if c["errors"]:
        line += "  ERRORS " + json.dumps(c["errors"])
        sys.stderr.write(line + "\n")
        sys.stderr.write(f"bench/compare: WARNING: {w}/{a} ({ph}, round {rnd}) had errors: "
                         f"{json.dumps(c['errors'])} {err_text.strip()[-200:]}\n")
    else:
        sys.stderr.write(line + "\n")
    if rnd != "warmup":
        with open(jsonl, "a") as f:
            f.write(json.dumps(c) + "\n")


def memory(jsonl, stem, kv):
    m = dict(x.split("=", 1) for x in kv)
    for k in ("units", "rss_before_kb", "rss_kb", "hwm_kb", "rc", "alive"):
        m[k] = int(m[k])
    lg = load_json(stem + ".json")
    m["errors"] = errors_of(lg, m["alive"], m["rc"])
    m["loadgen"] = {k: v for k, v in (lg or {}).items() if k in ("requests", "rps", "status", "errors", "errors_total")}
    grown = (m["hwm_kb"] if m["scenario"] == "peak-150k" else m["rss_kb"]) - m["rss_before_kb"]
    m["bytes_per_unit"] = round(grown * 1024 / m["units"], 0) if m["units"] else None
    if m["errors"]:
        m["note"] = "⚠️ **errors: " + ", ".join(f"{k} {v}" for k, v in m["errors"].items()) + "**"
        sys.stderr.write(f"bench/compare: WARNING: memory {m['server']}/{m['scenario']} had errors: {m['errors']}\n")
    sys.stderr.write(f"==> memory {m['server']} {m['scenario']}: {m['units']} {m['unit']}s, RSS before "
                     f"{m['rss_before_kb']} kB, under load {m['rss_kb']} kB, VmHWM {m['hwm_kb']} kB: "
                     f"{m['bytes_per_unit']:,.0f} B per {m['unit']}\n")
    with open(jsonl, "a") as f:
        f.write(json.dumps(m) + "\n")


def instructions(jsonl, tmp, kv):
    """Ir of each callgrind part (callgrind.out.PID.K, K = 1 startup, 2 N1, 3 N2, 4 idle 1 s)."""
    import glob
    i = dict(x.split("=", 1) for x in kv)
    n1, n2 = int(i["n1"]), int(i["n2"])
    parts = {}
    for path in glob.glob(tmp + "/callgrind.out.*.*"):
        k = int(path.rsplit(".", 1)[1])
        m = re.search(r"^(?:summary|totals):\s*(\d+)", open(path).read(), re.M)
        if m:
            parts[k] = int(m.group(1))
    if not all(k in parts for k in (1, 2, 3)):
        i["note"] = (i.get("note") or "") + f" ⚠️ callgrind parts missing (have {sorted(parts)})"
    else:
        i.update(n1=n1, n2=n2, ir_startup=parts[1], ir_n1=parts[2], ir_n2=parts[3],
                 ir_per_request=round((parts[3] - parts[2]) / (n2 - n1), 0),
                 ir_per_request_n2_alone=round(parts[3] / n2, 0))
        if 4 in parts:
            i["ir_idle_per_s"] = parts[4]
    sys.stderr.write(f"==> instructions {i['server']}: {i.get('ir_per_request', 'not measured')} per request "
                     f"{i.get('note', '')}\n")
    with open(jsonl, "a") as f:
        f.write(json.dumps(i) + "\n")


def wrk_lua(body_path):
    body = open(body_path).read()
    print("wrk.method = \"POST\"")
    print("wrk.body = " + json.dumps(body))
    print('wrk.headers["Content-Type"] = "application/json"')
    print('wrk.headers["Authorization"] = "Bearer sk-bench"')


def parse_wrk(path):
    s = open(path).read() if os.path.exists(path) else ""
    m = re.search(r"Requests/sec:\s+([\d.]+)", s)
    n = re.search(r"(\d+) requests in ([\d.]+)(\w+)", s)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", s)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", s)
    errors = (sum(int(x) for x in sock.groups()) if sock else 0) + (int(non2xx.group(1)) if non2xx else 0)
    return dict(rps=float(m.group(1)) if m else 0.0, requests=int(n.group(1)) if n else 0, errors=errors)


def check(tmp, delay_ms):
    runs = []
    for i in (1, 2):
        w = parse_wrk(f"{tmp}/check-wrk-{i}.txt")
        wr = load_json(f"{tmp}/check-wrk-{i}.rusage") or {}
        lg = load_json(f"{tmp}/check-loadgen-{i}.json") or {}
        lr = load_json(f"{tmp}/check-loadgen-{i}.rusage") or {}
        runs.append(dict(wrk_rps=w["rps"], wrk_requests=w["requests"], wrk_errors=w["errors"],
                         wrk_cpu_us_per_req=round((wr.get("user_s", 0) + wr.get("sys_s", 0)) * 1e6 / w["requests"], 2)
                         if w["requests"] else None,
                         loadgen_rps=lg.get("rps", 0.0), loadgen_requests=lg.get("requests", 0),
                         loadgen_errors=lg.get("errors_total", 0),
                         loadgen_cpu_us_per_req=round((lr.get("user_s", 0) + lr.get("sys_s", 0)) * 1e6 / lg["requests"], 2)
                         if lg.get("requests") else None))
    wrk = sum(r["wrk_rps"] for r in runs) / len(runs)
    lg = sum(r["loadgen_rps"] for r in runs) / len(runs)
    ratio = lg / wrk if wrk else None
    ok = bool(ratio and abs(ratio - 1) <= 0.10 and not any(r["wrk_errors"] or r["loadgen_errors"] for r in runs))
    out = dict(mock_delay_ms=int(delay_ms), wrk_rps=round(wrk, 1), loadgen_rps=round(lg, 1),
               ratio_loadgen_over_wrk=round(ratio, 3) if ratio else None, tolerance=0.10, passed=ok, runs=runs)
    print(json.dumps(out))
    msg = (f"loadgen vs wrk (same mock, 64 connections): loadgen {lg:,.0f} req/s, wrk {wrk:,.0f} req/s, "
           f"ratio {ratio:.3f}" if ratio else "loadgen vs wrk: no figures")
    sys.stderr.write(("==> " if ok else "bench/compare: WARNING: CHECK FAILED: ") + msg +
                     ("" if ok else " (outside ±10 % or with errors)") + "\n")
    sys.exit(0 if ok else 1)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "bodies":
        bodies(args[0])
    elif cmd == "answer-shape":
        answer_shape(args[0])
    elif cmd == "rusage":
        rusage(args[0], args[1:])
    elif cmd == "cell":
        cell(args[0], args[1], args[2:])
    elif cmd == "memory":
        memory(args[0], args[1], args[2:])
    elif cmd == "instructions":
        instructions(args[0], args[1], args[2:])
    elif cmd == "wrk-lua":
        wrk_lua(args[0])
    elif cmd == "check":
        check(args[0], args[1])
    elif cmd in ("variant-meta", "variant-config"):
        import variants
        variants.main(cmd, args)
    elif cmd == "report":
        import tables
        sys.exit(tables.report(args[0]))
    else:
        sys.exit(f"report.py: unknown command {cmd}")


if __name__ == "__main__":
    main()
