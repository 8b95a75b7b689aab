"""Print 'N passed, N failed' from meson's testlog.json (one JSON object per line)."""
import json
import sys

passed = failed = skipped = 0
try:
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            result = json.loads(line).get("result", "")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
except OSError as e:
    print(f"no test log: {e}")
    failed = max(failed, 1)
if skipped:
    print(f"{skipped} skipped")
print(f"{passed} passed, {failed} failed")
