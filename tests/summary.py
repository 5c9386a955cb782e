#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sums a meson test log into one line: "N passed, N failed, N skipped".

Criterion suites count their own tests (from their "Synthesis" line);
other meson tests (the header and export checks) count as one each.
"""
import json
import re
import sys

SYNTH = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| "
                   r"Failing: (\d+) \| Crashing: (\d+)")
SKIP = re.compile(r"^\[SKIP\]", re.M)
# Criterion reports a test as passed even when its process then dies in
# LeakSanitizer or prints an ASan/UBSan report: count those as failures.
SANITIZER = re.compile(r"ERROR: (?:Leak|Address)Sanitizer|runtime error: ")


def main(paths):
    passed = failed = skipped = 0
    for path in paths:
        with open(path) as f:
            lines = f.readlines()
        for line in lines:
            t = json.loads(line)
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            m = SYNTH.search(out)
            if m:
                tested, ok, fail, crash = map(int, m.groups())
                passed += ok
                failed += fail + crash
                skipped += len(SKIP.findall(out))
                if t["result"] not in ("OK", "EXPECTEDFAIL") and fail + crash == 0:
                    failed += 1  # the suite itself died or timed out
                reports = SANITIZER.findall(out)
                if reports:
                    print(f"{t['name']}: {len(reports)} sanitizer report(s)",
                          file=sys.stderr)
                    failed += len(reports)
            elif t["result"] == "OK":
                passed += 1
            elif t["result"] == "SKIP":
                skipped += 1
            else:
                failed += 1
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
