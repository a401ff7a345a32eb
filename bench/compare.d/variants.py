"""bench/compare.d/variants.py: feature variants of the ringgate arm (bench/compare --variants).

A variant is bench/compare.d/variants/NAME.toml: a TOML fragment merged over the generated base
ringgate config, plus an optional [bench] table that only the harness reads (it is removed before
the merge, so ringgate never sees it). The merged config is written back as TOML, and the variant
runs as the arm `ringgate+NAME` in the same interleaved run. Invariant: the merged config differs
from the base only by what the fragment says, and the listeners stay the harness's.

  variant-meta FILE NAME JSONL       the [bench] table as shell assignments, and to JSONL
  variant-config BASE FILE OUT K=V…  BASE merged with FILE (${K} substituted) written to OUT
"""
import json
import math
import re
import sys
import tomllib

# [bench] keys: name → (type, default). Unknown keys are an error, as in ringgate's own config.
META = {"description": (str, ""), "mocks": (int, 0), "workloads": (list, ["small", "burst"]),
        "headers": (list, []), "baseline": (str, ""), "max_delta_us": (float, None),
        "max_delta_pct": (float, None)}
WORKLOADS = ("small", "large", "burst", "paced")
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class VariantError(Exception):
    pass


def substitute(text, values, path):
    """${NAME} → values[NAME]; any other ${...} is an error naming the line (a typo would
    otherwise reach ringgate as a missing environment variable, far from its cause). VALUES None:
    every placeholder becomes 0 (to read [bench] before the ports are known)."""
    def one(m):
        if values is None:
            return "0"
        if m.group(1) not in values:
            line = text.count("\n", 0, m.start()) + 1
            raise VariantError(f"{path}:{line}: unknown placeholder ${{{m.group(1)}}} "
                               f"(known here: {', '.join('${' + k + '}' for k in sorted(values))})")
        return values[m.group(1)]
    return PLACEHOLDER.sub(one, text)


def meta_of(doc, path):
    raw = doc.pop("bench", {})
    if not isinstance(raw, dict):
        raise VariantError(f"{path}: [bench] must be a table")
    meta = {}
    for key, (kind, default) in META.items():
        v = raw.pop(key, default)
        if kind is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if v is not None and (not isinstance(v, kind) or isinstance(v, bool)):
            raise VariantError(f"{path}: bench.{key} must be a {kind.__name__}")
        meta[key] = v
    if raw:
        raise VariantError(f"{path}: unknown key bench.{sorted(raw)[0]} (known: {', '.join(META)})")
    if meta["mocks"] < 0 or meta["mocks"] > 16:
        raise VariantError(f"{path}: bench.mocks must be between 0 and 16")
    if meta["baseline"] and not re.fullmatch(r"[A-Za-z0-9_.-]+", meta["baseline"]):
        raise VariantError(f"{path}: bench.baseline must name another variant (a file name without .toml)")
    for w in meta["workloads"]:
        if w not in WORKLOADS:
            raise VariantError(f"{path}: bench.workloads: unknown workload {w!r} (known: {', '.join(WORKLOADS)})")
    for h in meta["headers"]:
        if not isinstance(h, str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*[^\r\n]*", h):
            raise VariantError(f"{path}: bench.headers: {h!r} is not a 'Name: value' header")
    return meta


def load(path, values):
    """The fragment of FILE (placeholders substituted) and its [bench] table."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise VariantError(f"{path}: {e.strerror}")
    try:
        doc = tomllib.loads(substitute(text, values, path))
    except tomllib.TOMLDecodeError as e:
        raise VariantError(f"{path}: {e}")
    return doc, meta_of(doc, path)


def named(xs):
    return all(isinstance(x, dict) and isinstance(x.get("name"), str) for x in xs)


def merge(base, over):
    """A copy of BASE with OVER merged in. Tables merge key by key; an array of tables whose
    entries all have a `name` (providers, models, keys) merges by name: an entry with a known name
    is merged into it, a new name is appended. Any other value (arrays included) replaces."""
    out = dict(base)
    for k, v in over.items():
        b = out.get(k)
        if isinstance(b, dict) and isinstance(v, dict):
            out[k] = merge(b, v)
        elif isinstance(b, list) and isinstance(v, list) and b and v and named(b) and named(v):
            merged = list(b)
            for entry in v:
                i = next((i for i, e in enumerate(merged) if e["name"] == entry["name"]), None)
                if i is None:
                    merged.append(entry)
                else:
                    merged[i] = merge(merged[i], entry)
            out[k] = merged
        else:
            out[k] = v
    return out


# ---- a TOML writer for the merged config (tomllib only reads) ---------------------------------

BARE = re.compile(r"[A-Za-z0-9_-]+")


def key(k):
    return k if BARE.fullmatch(k) else string(k)


def string(s):
    # A TOML basic string: \" \\ \b \t \n \f \r and \uXXXX for other control characters.
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def inline(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return string(v)
    if isinstance(v, list):
        return "[" + ", ".join(inline(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{key(k)} = {inline(x)}" for k, x in v.items()) + " }" if v else "{}"
    raise VariantError(f"cannot write a {type(v).__name__} value in a ringgate config")


def table_of_tables(path, v):
    # Top-level arrays of tables ([[providers]], [[models]], [[keys]]) as headers; deeper ones
    # (models.targets) inline, as the hand-written configs do.
    return len(path) == 0 and isinstance(v, list) and v and all(isinstance(x, dict) for x in v)


def emit(lines, path, table):
    """The keys of TABLE (at PATH) in an order TOML accepts: plain values, then sub-tables, then
    arrays of tables."""
    for k, v in table.items():
        if isinstance(v, dict) or table_of_tables(path, v):
            continue
        if isinstance(v, list) and len(v) > 1 and all(isinstance(x, dict) for x in v):
            lines += [f"{key(k)} = ["] + [f"  {inline(x)}," for x in v] + ["]"]  # one target a line
        else:
            lines.append(f"{key(k)} = {inline(v)}")
    for k, v in table.items():
        if isinstance(v, dict):
            lines += ["", "[" + ".".join(key(p) for p in path + [k]) + "]"]
            emit(lines, path + [k], v)
    for k, v in table.items():
        if table_of_tables(path, v):
            for entry in v:
                lines += ["", "[[" + ".".join(key(p) for p in path + [k]) + "]]"]
                emit(lines, path + [k], entry)


def dumps(doc):
    lines = []
    emit(lines, [], doc)
    return "\n".join(lines).lstrip("\n") + "\n"


# ---- commands ---------------------------------------------------------------------------------

def shell_word(s):
    return "'" + s.replace("'", "'\\''") + "'"


def meta_command(path, name, jsonl):
    """[bench] as shell assignments (VARIANT_MOCKS_N, VARIANT_BASELINE, VARIANT_WORKLOAD_LIST, the array
    VARIANT_HEADER_LIST), and as one JSON line appended to JSONL for the report. Placeholders are
    read as 0: the ports are not known yet."""
    _, meta = load(path, None)
    print(f"VARIANT_MOCKS_N={meta['mocks']}")
    print(f"VARIANT_BASELINE={shell_word(meta['baseline'])}")
    print(f"VARIANT_WORKLOAD_LIST={shell_word(' '.join(meta['workloads']))}")
    print("VARIANT_HEADER_LIST=(" + " ".join(shell_word(h) for h in meta["headers"]) + ")")
    with open(jsonl, "a") as f:
        f.write(json.dumps(dict(name=name, file=path, **meta)) + "\n")


def config_command(base_path, path, out_path, kv):
    values = dict(x.split("=", 1) for x in kv)
    with open(base_path, "rb") as f:
        base = tomllib.load(f)
    fragment, _ = load(path, values)
    merged = merge(base, fragment)
    # The listeners are the harness's: the arm's port, and an admin port of its own.
    merged.setdefault("server", {})["listen"] = base["server"]["listen"]
    if "admin" in base:
        merged.setdefault("admin", {})["listen"] = base["admin"]["listen"]
    text = dumps(merged)
    if tomllib.loads(text) != merged:
        raise VariantError(f"{path}: the merged config does not read back the same (a TOML writer bug)")
    with open(out_path, "w") as f:
        f.write(f"# generated by bench/compare: {base_path} + {path}\n" + text)


def main(cmd, args):
    try:
        if cmd == "variant-meta":
            meta_command(args[0], args[1], args[2])
        elif cmd == "variant-config":
            config_command(args[0], args[1], args[2], args[3:])
        else:
            sys.exit(f"variants.py: unknown command {cmd}")
    except VariantError as e:
        sys.exit(f"bench/compare: error: variant {e}")
