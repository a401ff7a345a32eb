#!/usr/bin/env python3
"""bench/profile/exclusive.py DUMP [REQUESTS] [TOP]: exclusive instructions per function in a
callgrind dump (callgrind_annotate attributes everything to the thread's entry point when the
counters were zeroed mid-run), divided by REQUESTS; the first line is the total per request."""
import collections
import re
import sys


def main():
    dump = sys.argv[1]
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    names = {}
    cost = collections.Counter()
    fn = None
    after_calls = False
    total = 0

    def name(text):  # callgrind's name compression: "(id) name" defines, "(id)" refers
        m = re.match(r"\((\d+)\)(?: (.*))?", text)
        if not m:
            return text
        if m.group(2):
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), "?")

    for line in open(dump):
        line = line.rstrip("\n")
        if line.startswith("fn="):
            fn = name(line[3:])
        elif line.startswith("cfn="):
            name(line[4:])
        elif line.startswith("calls="):
            after_calls = True  # the next cost line is the call's inclusive cost
        elif line and (line[0].isdigit() or line[0] in "+-*"):
            if after_calls:
                after_calls = False
                continue
            parts = line.split()
            if len(parts) >= 2:
                cost[fn] += int(parts[1])
                total += int(parts[1])
    print(f"total {total / per:,.0f} instructions per request")
    for f, c in cost.most_common(top):
        print(f"{c / per:9,.0f} {100 * c / total:5.1f} %  {f[:150]}")


if __name__ == "__main__":
    main()
