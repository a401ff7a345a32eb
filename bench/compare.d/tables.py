"""bench/compare.d/tables.py: bench/compare's results, from the files it left in $TMP, to
STEM.json, STEM.md and STEM.plot.dat/.plot.gp (the gnuplot input of bench/compare.d/latency.gp).
Called as `report.py report STEM` with the run's description in the environment."""
import json
import os
import statistics

PCTS = ("p50", "p90", "p99", "p999")


def lines_of(path):
    return [l for l in open(path)] if os.path.exists(path) else []


def jsonl(path):
    return [json.loads(l) for l in lines_of(path) if l.strip()]


def med(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 1) if xs else None


def pcts(cells, key):
    out = {}
    for p in PCTS:
        out[p] = med([(((c["loadgen"] or {}) if key == "latency_us" else
                        ((c["loadgen"] or {}).get("stream") or {})).get(key) or {}).get(p) for c in cells])
    return out


def merge_errors(cells):
    e = {}
    for c in cells:
        for k, v in c["errors"].items():
            e[k] = e.get(k, 0) + v
    return e


def aggregate(cells):
    """One (workload, arm, phase) over its rounds."""
    lgs = [c["loadgen"] or {} for c in cells]
    req = sum(l.get("requests") or 0 for l in lgs)
    secs = sum(l.get("duration_s") or 0 for l in lgs)
    cpu = sum(c["proxy_cpu_ns"] for c in cells)
    mock = sum(c["mock_cpu_ns"] for c in cells)
    streams = [l.get("stream") for l in lgs if l.get("stream")]
    d = dict(rounds=len(cells), requests=req, seconds=round(secs, 3),
             rps=round(statistics.mean(l.get("rps") or 0 for l in lgs), 1) if lgs else 0.0,
             latency_us=pcts(cells, "latency_us"),
             proxy_cpu_ns=cpu, proxy_cpu_us_per_req=round(cpu / 1e3 / req, 3) if req else None,
             proxy_core_use=round(cpu / 1e9 / secs, 3) if secs else None,
             mock_cpu_us_per_req=round(mock / 1e3 / req, 3) if req else None,
             loadgen_cpu_us_per_req=round(sum(c["loadgen_cpu_s"] for c in cells) * 1e6 / req, 3) if req else None,
             proxy_rss_kb_max=max(c["proxy_rss_kb"] for c in cells),
             errors=merge_errors(cells))
    if streams:
        d["chunks_per_response"] = round(statistics.mean(s.get("chunks_per_response") or 0 for s in streams), 2)
        d["bytes_per_response"] = round(statistics.mean(s.get("bytes_per_response") or 0 for s in streams), 1)
        d["ttft_us"] = pcts(cells, "ttft_us")
        d["ttfb_us"] = pcts(cells, "ttfb_us")
        d["gap_us"] = pcts(cells, "gap_us")
    return d


def sub(a, b):
    return round(a - b, 1) if a is not None and b is not None else None


def ratio(a, b, nd=3):
    return round(a / b, nd) if a and b else None


def summarise(w, a, phases, direct, chunks):
    """The headline figures of one (workload, arm) from its phases."""
    cpu_phase = phases.get("c64") or phases.get("rate") or {}
    s = dict(cpu_phase="c64" if "c64" in phases else "rate")
    if a != "direct":
        s["proxy_cpu_us_per_req"] = cpu_phase.get("proxy_cpu_us_per_req")
        per = cpu_phase.get("chunks_per_response") or (chunks if w in ("burst", "paced") else None)
        if w in ("burst", "paced") and s["proxy_cpu_us_per_req"] and per:
            s["proxy_cpu_us_per_chunk"] = round(s["proxy_cpu_us_per_req"] / per, 4)
        s["proxy_core_use"] = cpu_phase.get("proxy_core_use")
    for c in ("c64", "c8"):
        if c in phases:
            s["rps_" + c] = phases[c]["rps"]
            s["rps_ratio_to_direct_" + c] = ratio(phases[c]["rps"], (direct.get(c) or {}).get("rps"))
    for ph, tag in (("rate", "open_loop"), ("c1", "single_flight")):
        if ph in phases and ph in direct:
            for p in ("p50", "p99"):
                s[f"added_{p}_us_{tag}"] = sub(phases[ph]["latency_us"][p], direct[ph]["latency_us"][p])
                if "ttft_us" in phases[ph] and "ttft_us" in direct[ph]:
                    s[f"added_ttft_{p}_us_{tag}"] = sub(phases[ph]["ttft_us"][p], direct[ph]["ttft_us"][p])
    s["rss_kb_max"] = max((p["proxy_rss_kb_max"] for p in phases.values()), default=0)
    s["errors"] = {}
    for p in phases.values():
        for k, v in p["errors"].items():
            s["errors"][k] = s["errors"].get(k, 0) + v
    return s


def fidelity(tmp):
    fid = {}
    for line in lines_of(tmp + "/fidelity.tsv"):
        w, a, status, size, events, content, usage, done, req_bytes = line.split()
        fid[(w, a)] = dict(status=int(status), body_bytes=int(size), sse_events=int(events),
                           content_events=int(content), usage_events=int(usage), done=done == "1",
                           request_body_bytes=int(req_bytes))
    return fid


def answer_matches(x, d, stream):
    if not (x and d and x["status"] == d["status"] == 200):
        return False
    if stream:
        return x["content_events"] == d["content_events"] and x["done"] == d["done"]
    return x["body_bytes"] == d["body_bytes"]


def variant_of(arm):
    return arm[len("ringgate+"):] if arm.startswith("ringgate+") else None


def arms_on(w, arms, variants):
    """The arms with cells on workload W: every arm, but a variant only on its workloads."""
    return [a for a in arms if variant_of(a) is None or w in variants[variant_of(a)]["workloads"]]


def build(E, variants):
    tmp = E["TMP"]
    all_arms, workloads = E["ARM_LIST"].split(), E["WORKLOAD_LIST"].split()
    chunks = int(E["MOCK_CHUNKS"])
    cells = jsonl(tmp + "/cells.jsonl")
    fid = fidelity(tmp)
    res = {}
    for w in workloads:
        res[w] = {}
        arms = arms_on(w, all_arms, variants)
        agg = {a: {} for a in arms}
        for a in arms:
            for ph in dict.fromkeys(c["phase"] for c in cells if c["workload"] == w and c["arm"] == a):
                agg[a][ph] = aggregate([c for c in cells if c["workload"] == w and c["arm"] == a and c["phase"] == ph])
        for a in arms:
            s = summarise(w, a, agg[a], agg["direct"], chunks)
            x, d = fid.get((w, a)), fid.get((w, "direct"))
            s["answer"] = x
            s["answer_matches_direct"] = answer_matches(x, d, w in ("burst", "paced"))
            cpr, dcpr = [((agg[k].get("c64") or agg[k].get("rate") or {}).get("chunks_per_response")) for k in (a, "direct")]
            if w in ("burst", "paced"):
                s["loadgen_chunks_match_direct"] = cpr is not None and cpr == dcpr
                if not s["loadgen_chunks_match_direct"]:
                    s["errors"]["chunk_count_differs"] = 1
            if not s["answer_matches_direct"]:
                s["errors"]["answer_differs"] = 1
            # The CPU phase's cells one by one, for per-round ratios (variant_figures).
            s["cpu_us_per_req_by_round"] = {
                str(c["round"]): round(c["proxy_cpu_ns"] / 1e3 / c["loadgen"]["requests"], 3)
                for c in cells
                if c["workload"] == w and c["arm"] == a and c["phase"] == s["cpu_phase"]
                and (c["loadgen"] or {}).get("requests")}
            res[w][a] = dict(summary=s, phases=agg[a])
    headline = {}
    for other in ("nginx", "portkey"):
        if "ringgate" in all_arms and other in all_arms:
            headline["ringgate_over_" + other] = {
                w: ratio(res[w]["ringgate"]["summary"].get("proxy_cpu_us_per_req"),
                         res[w][other]["summary"].get("proxy_cpu_us_per_req")) for w in workloads}
    return res, headline


def round_ratios(arm_summary, base_summary):
    """Per round, the arm's CPU µs/request over its baseline's in the same round (the two are
    measured one after the other): the ratios sorted."""
    a, b = arm_summary.get("cpu_us_per_req_by_round") or {}, base_summary.get("cpu_us_per_req_by_round") or {}
    return sorted(a[r] / b[r] for r in a if r in b and b[r])


def paired_ratios(cells, w, arm, vs):
    """The paired rounds of ARM with VS on workload W (both under load at the same instant): per
    round, ARM's CPU µs/request over VS's, sorted."""
    by_round = {}
    for c in cells:
        if (c["workload"] == w and c["phase"] == "paired" and c.get("pair") == f"{arm}|{vs}"
                and (c["loadgen"] or {}).get("requests")):
            by_round.setdefault(c["round"], {})[c["arm"]] = c["proxy_cpu_ns"] / c["loadgen"]["requests"]
    return sorted(r[arm] / r[vs] for r in by_round.values() if arm in r and vs in r and r[vs])


def variant_figures(res, variants, cells=()):
    """Per variant and workload: proxy CPU µs/request against its baseline's in the same run (the
    base ringgate arm, or the variant its bench.baseline names when that ran too), the difference
    in µs and %, and whether it is within the variant's target (if any).

    Two estimates of the difference: pooled (all rounds' CPU over all their requests, arm against
    baseline) and the median of the per-round ratios (each round's cells ran back to back). On a
    shared VM one cell can run 10-15 % slow or fast; the pooled figure takes such a cell whole,
    the median of paired ratios does not, so the target is judged on it when three or more rounds
    ran (bench/profile/interleaved uses the same estimator).

    A third, when paired rounds ran (run_paired in variants.sh): the two arms loaded at the same
    instant, so the VM's drift cancels in each round's ratio; the target is judged on their
    median when five or more ran."""
    out = {}
    for name, meta in variants.items():
        arm, per = "ringgate+" + name, {}
        for w in res:
            want = "ringgate+" + meta["baseline"] if meta.get("baseline") else "ringgate"
            vs = want if want in res[w] else "ringgate"
            if arm not in res[w] or vs not in res[w]:
                continue
            cpu = res[w][arm]["summary"].get("proxy_cpu_us_per_req")
            base = res[w][vs]["summary"].get("proxy_cpu_us_per_req")
            f = dict(vs=vs, cpu_us_per_req=cpu, base_cpu_us_per_req=base, delta_us=None, delta_pct=None,
                     within_target=None, errors=res[w][arm]["summary"]["errors"])
            if vs != want:
                f["note"] = f"its baseline {want} did not run: compared with ringgate"
            rr = round_ratios(res[w][arm]["summary"], res[w][vs]["summary"])
            f["rounds"] = len(rr)
            if rr:
                f["round_delta_pct_median"] = round((statistics.median(rr) - 1) * 100, 2)
                f["round_delta_pct_min"] = round((rr[0] - 1) * 100, 2)
                f["round_delta_pct_max"] = round((rr[-1] - 1) * 100, 2)
            pr = paired_ratios(cells, w, arm, vs)
            f["paired_rounds"] = len(pr)
            if pr:
                f["paired_delta_pct_median"] = round((statistics.median(pr) - 1) * 100, 2)
                f["paired_delta_pct_min"] = round((pr[0] - 1) * 100, 2)
                f["paired_delta_pct_max"] = round((pr[-1] - 1) * 100, 2)
                if len(pr) >= 2:  # the standard error of the mean ratio, in points of %
                    f["paired_delta_pct_se"] = round(statistics.stdev(pr) / len(pr) ** 0.5 * 100, 2)
            if cpu is not None and base:
                f["delta_us"] = round(cpu - base, 3)
                f["delta_pct"] = round((cpu - base) / base * 100, 2)
                if len(pr) >= 5:
                    judged, f["judged_on"] = f["paired_delta_pct_median"], "median of paired rounds"
                elif len(rr) >= 3:
                    judged, f["judged_on"] = f["round_delta_pct_median"], "median of per-round ratios"
                else:
                    judged, f["judged_on"] = f["delta_pct"], "pooled"
                checks = [f["delta_us"] <= meta[k] if k == "max_delta_us" else judged <= meta[k]
                          for k in ("max_delta_us", "max_delta_pct") if meta.get(k) is not None]
                f["within_target"] = all(checks) if checks else None
            per[w] = f
        out[name] = dict(description=meta.get("description", ""), workloads=meta["workloads"],
                         mocks=meta.get("mocks", 0), baseline=meta.get("baseline") or "ringgate",
                         max_delta_us=meta.get("max_delta_us"), max_delta_pct=meta.get("max_delta_pct"),
                         results=per)
    return out


def report(stem):
    E = os.environ
    tmp = E["TMP"]
    do_compare = E["DO_COMPARE"] == "1"
    arms, workloads = E["ARM_LIST"].split(), E["WORKLOAD_LIST"].split()
    variants = {v["name"]: v for v in jsonl(tmp + "/variants.jsonl")}
    res, headline = build(E, variants) if do_compare else ({}, {})
    cells = jsonl(tmp + "/cells.jsonl") if do_compare else []
    check = json.loads(open(tmp + "/check.json").read() or "null") if os.path.exists(tmp + "/check.json") else None
    memory = jsonl(tmp + "/memory.jsonl")
    instructions = jsonl(tmp + "/instructions.jsonl")
    notes = [l.strip() for l in lines_of(tmp + "/notes.txt") if l.strip()]
    idle = {r["arm"]: r["rss_idle_kb"] for r in jsonl(tmp + "/idle.jsonl")}
    errored = [(w, a) for w in res for a in res[w] if res[w][a]["summary"]["errors"]]
    setup = dict(
        pinning=f"proxy under test (ringgate's process, nginx's master + worker, portkey's node process) "
                f"alone on core {E['PROXY_CPU']}; mockllm (one process per mock, 1 shard each) and loadgen "
                f"(1 thread) on core {E['CLIENT_CPU']}",
        proxy_cpu=int(E["PROXY_CPU"]), client_cpu=int(E["CLIENT_CPU"]),
        duration_s=float(E["DURATION_S"]), warmup_s=float(E["WARMUP_S"]), rounds=int(E["ROUNDS"]),
        phases=E["PHASES"].strip(), open_loop_rates=E["RATES"].strip(),
        mock_words=int(E["MOCK_WORDS"]), mock_chunks=int(E["MOCK_CHUNKS"]), paced_delay_ms=int(E["PACE_MS"]),
        order="for each round, workload and cell: " + " ".join(arms),
        paired_rounds=int(E.get("PAIRED_ROUNDS") or 0),
        paired="after the rounds: each variant and the arm it is compared with loaded at the same "
               f"time on core {E['PROXY_CPU']}, {E.get('PAIRED_CONNECTIONS') or 32} connections each",
        loadavg_start=E["LOADAVG_START"], loadavg_end=E["LOADAVG_END"])
    out = dict(benchmark="compare", date=E["DATE_ISO"], command=E["COMMAND"], quick=E["QUICK"] == "1",
               machine=json.loads(E["MACHINE_JSON"]),
               versions=dict(ringgate=E["RINGGATE_VERSION"], git=E["GIT_DESCRIBE"], nginx=E["NGINX_VERSION"],
                             node=E["NODE_VERSION"], portkey=E["PORTKEY_VERSION_FOUND"], wrk=E["WRK_VERSION"],
                             ringgate_bin=E["BIN"], mockllm_bin=E["MOCK"], loadgen_bin=E["LOADGEN"]),
               setup=setup, arms=arms, workloads=workloads if do_compare else [], skipped=notes,
               headline_cpu_per_req=headline, rss_idle_kb=idle,
               variants=variant_figures(res, variants, cells) if do_compare else {},
               results={w: {a: res[w][a]["summary"] for a in res[w]} for w in res},
               phases={w: {a: res[w][a]["phases"] for a in res[w]} for w in res},
               errors={f"{w}/{a}": res[w][a]["summary"]["errors"] for w, a in errored},
               loadgen_check=check, memory=memory, instructions=instructions,
               log_lines=dict(ringgate=int(E["LOG_LINES_RINGGATE"]), nginx=int(E["LOG_LINES_NGINX"])))
    with open(stem + ".json", "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    import markdown_out
    with open(stem + ".md", "w") as f:
        f.write(markdown_out.render(out, E) + "\n")
    if do_compare:
        write_plot(stem, out, res)
    return 2 if errored or (check and not check["passed"]) else 0


def write_plot(stem, out, res):
    arms = [a for a in out["arms"] if variant_of(a) is None]  # the variants have their own table
    rates = dict(x.split("=") for x in out["setup"]["open_loop_rates"].split())
    blocks, titles = [], []
    for w in res:
        key = "ttft_us" if w == "paced" else "latency_us"
        rate = res[w]["direct"]["phases"].get("rate")
        if not rate:
            continue
        what = "time to first chunk" if w == "paced" else ("whole stream" if w == "burst" else "latency")
        titles.append(f"{w}: {what}, open loop {rates.get(w, '?')}/s")
        rows = []
        for i, p in enumerate(PCTS):
            vals = []
            for a in arms:
                v = (res[w][a]["phases"].get("rate") or {}).get(key, {}).get(p)
                vals.append("?" if v is None or v <= 0 else f"{v / 1000:.4f}")
            rows.append(f"{i} {p.replace('p999', 'p99.9')} " + " ".join(vals))
        blocks.append("\n".join(rows))
    with open(stem + ".plot.dat", "w") as f:
        f.write("# percentile " + " ".join(arms) + "  (milliseconds)\n" + "\n\n\n".join(blocks) + "\n")
    with open(stem + ".plot.gp", "w") as f:
        f.write(f"datafile = '{stem}.plot.dat'\noutfile = '{stem}.png'\n")
        f.write(f"arms = '{' '.join(arms)}'\npanels = {len(titles)}\n")
        f.write(f"heading = 'Latency percentiles per arm ({out['date'][:10]}, {out['machine']['hostname']})'\n")
        for i, t in enumerate(titles):
            f.write(f"title{i} = '{t}'\n")
