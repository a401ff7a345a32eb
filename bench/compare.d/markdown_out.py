"""bench/compare.d/markdown_out.py: the markdown page of a bench/compare run, from the JSON object
tables.py builds (render(out, env) → text)."""

LABELS = {"direct": "direct", "ringgate": "ringgate (1 shard)", "nginx": "nginx (1 worker)",
          "portkey": "portkey (node)"}


def fmt(v, nd=2, signed=False):
    if v is None:
        return "–"
    return f"{v:+,.{nd}f}" if signed else f"{v:,.{nd}f}"


def err_cell(e):
    if not e:
        return "0"
    return "⚠️ **" + ", ".join(f"{k} {v}" for k, v in sorted(e.items())) + "**"


def headline(out):
    parts = []
    for other, label in (("nginx", "ringgate ÷ nginx"), ("portkey", "ringgate ÷ portkey")):
        h = out["headline_cpu_per_req"].get("ringgate_over_" + other)
        if h:
            parts.append(f"{label}: " + ", ".join(f"`{w}` **{fmt(v, 3)}**" for w, v in h.items()))
    return "**Headline — proxy CPU per request (same run):** " + "; ".join(parts) + "." if parts else ""


def main_table(out):
    L = ["| workload | arm | req/s @64 | × direct @64 | × direct @8 | proxy CPU µs/req | µs/chunk | core use |"
         " +p50 µs | +p99 µs | +TTFT p50 µs | +TTFT p99 µs | RSS MiB | errors |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for w, arms in out["results"].items():
        for a, s in arms.items():
            core = s.get("proxy_core_use")
            L.append(
                f"| {w} | {LABELS.get(a, a)} | {fmt(s.get('rps_c64'), 0)} | {fmt(s.get('rps_ratio_to_direct_c64'), 3)} | "
                f"{fmt(s.get('rps_ratio_to_direct_c8'), 3)} | {fmt(s.get('proxy_cpu_us_per_req'))} | "
                f"{fmt(s.get('proxy_cpu_us_per_chunk'), 3)} | {'–' if core is None else f'{core * 100:.0f} %'} | "
                f"{fmt(s.get('added_p50_us_open_loop'), 0, True) if a != 'direct' else '–'} | "
                f"{fmt(s.get('added_p99_us_open_loop'), 0, True) if a != 'direct' else '–'} | "
                f"{fmt(s.get('added_ttft_p50_us_open_loop'), 0, True) if a != 'direct' else '–'} | "
                f"{fmt(s.get('added_ttft_p99_us_open_loop'), 0, True) if a != 'direct' else '–'} | "
                f"{fmt(s['rss_kb_max'] / 1024, 1) if s.get('rss_kb_max') else '–'} | {err_cell(s['errors'])} |")
    return L


def target_of(v):
    t = []
    if v.get("max_delta_us") is not None:
        t.append(f"≤ +{v['max_delta_us']:g} µs")
    if v.get("max_delta_pct") is not None:
        t.append(f"≤ +{v['max_delta_pct']:g} %")
    return ", ".join(t)


def variants_section(out):
    """Feature variants: CPU µs/request of each ringgate+NAME against the base ringgate arm."""
    if not out.get("variants"):
        return []
    L = ["Feature variants — proxy CPU per request against the base `ringgate` arm (or the variant "
         "named as its baseline), same run (bench/compare.d/variants/NAME.toml merged over its config). "
         "Δ % pooled: all rounds' CPU over all their requests; per round: the median (and range) of "
         "the rounds' own ratios, the two arms measured back to back, which a slow or fast cell on "
         "the shared VM does not sway; paired: the median of the paired rounds' ratios, the two arms "
         "loaded at the same instant on the same core, which cancels the VM's drift (s.e.: standard "
         "error of their mean). The target is judged on the paired median when 5+ paired rounds "
         "ran, else on the per-round median when 3+ rounds ran, else pooled:", "",
         "| workload | variant | what | CPU µs/req | vs | its µs/req | Δ µs | Δ % pooled | "
         "Δ % per round: median (min … max) | Δ % paired: median (s.e.; min … max) | target | errors |",
         "|---|---|---|---:|---|---:|---:|---:|---:|---:|---|---|"]
    for name, v in out["variants"].items():
        for w, f in v["results"].items():
            target = target_of(v)
            if target and f["within_target"] is not None:
                target += " ✅" if f["within_target"] else " ⚠️ **over**"
            vs = f"`{f['vs']}`" + (f" ({f['note']})" if f.get("note") else "")
            per_round = "–" if f.get("round_delta_pct_median") is None else (
                f"{fmt(f['round_delta_pct_median'], 1, True)} ({fmt(f['round_delta_pct_min'], 1, True)} … "
                f"{fmt(f['round_delta_pct_max'], 1, True)}, {f['rounds']} rounds)")
            paired = "–" if f.get("paired_delta_pct_median") is None else (
                f"{fmt(f['paired_delta_pct_median'], 1, True)} (s.e. {fmt(f.get('paired_delta_pct_se'), 1)}; "
                f"{fmt(f['paired_delta_pct_min'], 1, True)} … {fmt(f['paired_delta_pct_max'], 1, True)}, "
                f"{f['paired_rounds']} rounds)")
            L.append(f"| {w} | `{name}` | {v['description']} | {fmt(f['cpu_us_per_req'])} | {vs} | "
                     f"{fmt(f['base_cpu_us_per_req'])} | {fmt(f['delta_us'], 2, True)} | "
                     f"{fmt(f['delta_pct'], 1, True)} | {per_round} | {paired} | {target or '–'} | "
                     f"{err_cell(f['errors'])} |")
        if not v["results"]:
            L.append(f"| – | `{name}` | {v['description']} | – | – | – | – | – | – | – | {target_of(v) or '–'} | "
                     f"not run: none of its workloads ({', '.join(v['workloads'])}) was in this run |")
    return L + [""]


def percentile_table(out):
    L = ["| workload | arm | p50 | p90 | p99 | p99.9 | TTFT p50 | TTFT p99 | single flight +p50 / +p99 µs |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for w, arms in out["phases"].items():
        for a, ph in arms.items():
            r = ph.get("rate") or {}
            lat, ttft = r.get("latency_us") or {}, r.get("ttft_us") or {}
            s = out["results"][w][a]
            sf = "–" if a == "direct" or "added_p50_us_single_flight" not in s else \
                f"{fmt(s['added_p50_us_single_flight'], 0, True)} / {fmt(s['added_p99_us_single_flight'], 0, True)}"
            L.append(f"| {w} | {a} | " + " | ".join(fmt(lat.get(p), 0) for p in ("p50", "p90", "p99", "p999")) +
                     f" | {fmt(ttft.get('p50'), 0)} | {fmt(ttft.get('p99'), 0)} | {sf} |")
    return L


def answers(out):
    L = []
    for w, arms in out["results"].items():
        parts = []
        for a, s in arms.items():
            x = s["answer"]
            if not x:
                parts.append(f"{a}: none")
                continue
            t = f"{a}: HTTP {x['status']}, {x['body_bytes']} B"
            if w in ("burst", "paced"):
                t += f" / {x['sse_events']} / {x['content_events']} / {x['usage_events']} / {'yes' if x['done'] else 'NO'}"
            if a != "direct" and not s["answer_matches_direct"]:
                t += " (**differs from direct**)"
            parts.append(t)
        req = next((s["answer"]["request_body_bytes"] for s in arms.values() if s["answer"]), "?")
        L.append(f"- `{w}` (request body {req} B): " + "; ".join(parts))
    return L


def check_section(c):
    if not c:
        return []
    runs = c["runs"]
    return ["## Tool check: loadgen vs wrk", "",
            f"{'✅ passed' if c['passed'] else '⚠️ **FAILED**'}: same mockllm (alone on the proxy core, answering after {c.get('mock_delay_ms', '?')} ms), small workload, "
            f"64 connections, alternating wrk loadgen wrk loadgen: loadgen **{fmt(c['loadgen_rps'], 0)}** req/s, "
            f"wrk **{fmt(c['wrk_rps'], 0)}** req/s, ratio **{fmt(c['ratio_loadgen_over_wrk'], 3)}** (must be within ±10 %). "
            f"Client CPU µs/req: loadgen " + ", ".join(fmt(r["loadgen_cpu_us_per_req"]) for r in runs) +
            "; wrk " + ", ".join(fmt(r["wrk_cpu_us_per_req"]) for r in runs) + ".", ""]


def memory_section(mem):
    if not mem:
        return []
    L = ["## Memory", "",
         "| server | scenario | load | RSS before MiB | RSS under load MiB | peak (VmHWM) MiB | per unit | note |",
         "|---|---|---:|---:|---:|---:|---:|---|"]
    for m in mem:
        per = m.get("bytes_per_unit")
        L.append(f"| {m['server']} | {m['scenario']} | {m.get('units', '–')} {m.get('unit', '')} | "
                 f"{fmt(m.get('rss_before_kb', 0) / 1024, 1)} | {fmt((m.get('rss_kb') or 0) / 1024, 1)} | "
                 f"{fmt((m.get('hwm_kb') or 0) / 1024, 1)} | "
                 f"{'–' if per is None else format(per, ',.0f') + ' B/' + m.get('unit', '-')} | "
                 f"{m.get('note', '')} |")
    return L + [""]


def instructions_section(ins):
    if not ins:
        return []
    L = ["## Instructions per request (callgrind)", "",
         "| server | N1 | N2 | Ir(N1) | Ir(N2) | instructions/request | idle Ir/s | note |",
         "|---|---:|---:|---:|---:|---:|---:|---|"]
    for i in ins:
        L.append(f"| {i['server']} | {i.get('n1', '–')} | {i.get('n2', '–')} | {fmt(i.get('ir_n1'), 0)} | "
                 f"{fmt(i.get('ir_n2'), 0)} | **{fmt(i.get('ir_per_request'), 0)}** | {fmt(i.get('ir_idle_per_s'), 0)} | "
                 f"{i.get('note', '')} |")
    return L + [""]


def render(out, E):
    L = [f"# ringgate compared: {' vs '.join(out['arms']) if out['results'] else 'memory / instructions'} "
         f"({E['DATE']}, {E['HOST']})", ""]
    if out["quick"]:
        L += [f"_`--quick` run: {out['setup']['rounds']} round(s), {out['setup']['duration_s']:g} s cells — a smoke "
              "run, not a result._", ""]
    if out["results"]:
        L += [headline(out), ""]
    if out["errors"]:
        L += ["> ⚠️ **ERRORS: " + "; ".join(f"{k}: " + ", ".join(f"{n} {v}" for n, v in e.items())
                                             for k, e in out["errors"].items()) +
              " — the figures of these arms are not valid.**", ""]
    for n in out["skipped"]:
        L += [f"> Arm skipped — {n}", ""]
    if out["results"]:
        L += main_table(out) + [""]
        L += ["Columns: req/s and CPU at 64 connections, closed loop (paced: the open-loop cell); × direct = "
              "req/s ÷ direct's in the same cell; +p50/+p99 = arm minus direct under the fixed open-loop rate "
              f"({out['setup']['open_loop_rates']}); TTFT = time to first content chunk; µs/chunk = CPU µs/req ÷ "
              "chunks per stream; core use = proxy CPU ÷ wall time; RSS = the proxy's largest VmRSS after a cell "
              "(nginx: master + worker).", ""]
        L += variants_section(out)
        L += ["Latency percentiles, µs, open loop (the plot):", ""] + percentile_table(out) + [""]
        L += ["Answers (one curl per workload and arm before the load; body bytes / SSE `data:` events / content "
              "events / usage events / `[DONE]`):", ""] + answers(out) + [""]
    L += check_section(out["loadgen_check"])
    L += memory_section(out["memory"])
    L += instructions_section(out["instructions"])
    m, v, s = out["machine"], out["versions"], out["setup"]
    L += ["## Setup", "",
          f"- Machine: {m['nproc']} CPUs, {m['cpu_model']}, Linux {m['kernel']} (shared VM: compare ratios, not "
          f"absolutes); load average {s['loadavg_start']} at the start, {s['loadavg_end']} at the end.",
          f"- Versions: {v['ringgate']} (`{v['ringgate_bin']}`, tree {v['git']}); nginx {v['nginx']}; "
          f"node {v['node']}, @portkey-ai/gateway {v['portkey']}; loadgen `{v['loadgen_bin']}`; {v['wrk']}.",
          f"- Pinning: {s['pinning']}." if out["results"] else "- Memory: servers unpinned; instructions: server on core 1.",
          f"- Logs during the run: ringgate {out['log_lines']['ringgate']} lines, nginx error log "
          f"{out['log_lines']['nginx']} lines.",
          f"- Date: {out['date']}. Command: `{out['command']}`"]
    if out["results"]:
        L[-2:-2] = [
          f"- Cells: {s['phases']} (c N = closed loop at N connections, rate = open loop at 64 connections); "
          f"{s['duration_s']:g} s each, {s['rounds']} round(s), after a {s['warmup_s']:g} s warm-up of every "
          f"workload and arm; order {s['order']}." +
          (f" Then {s['paired_rounds']} paired rounds ({s['paired']})." if s.get("paired_rounds") and out.get("variants") else ""),
          f"- Mock: mockllm `--words {s['mock_words']} --chunks {s['mock_chunks']}`; the paced workload's own "
          f"instance adds `--delay-ms {s['paced_delay_ms']}`.",
          "- CPU: Δ of the scheduler's run time (`/proc/PID/task/*/schedstat`, ns) of the proxy's processes and "
          "threads over the cell ÷ requests completed.",
        ]
    return "\n".join(L)
