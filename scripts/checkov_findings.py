"""Compares checkov's failed checks with the accepted list (tests/checkov-accepted.txt).

checkov runs once over several templates (its start-up is the slow part) with `-o json`; this
script reads that report and fails when
* a template fails a check on a resource that the list does not accept for that check (a new
  finding: fix it, or add it to the list with the reason it stays), or
* a check and resource the list accepts fails in none of the templates (a fixed finding:
  remove it from the list, and from the README's "Security findings (checkov)").
It prints the number of failed checks per template, so counts are visible in the test log.

Usage: python scripts/checkov_findings.py ACCEPTED_LIST REPORT_JSON
"""

import json
import sys
from collections import Counter


def read_accepted(path):
    """{(check_id, logical_id): reason} from lines `CHECK_ID ID[,ID...] reason`."""
    accepted = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(maxsplit=2)
            if len(parts) < 3:
                sys.exit(f"{path}:{number}: expected 'CHECK_ID LOGICAL_ID[,...] reason', got {line!r}")
            check_id, ids, reason = parts
            for logical_id in ids.split(","):
                accepted[(check_id, logical_id)] = reason
    return accepted


def failed_checks(path):
    """[(check_id, check_name, logical_id, file)] of every failed check in a checkov JSON report."""
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    reports = report if isinstance(report, list) else [report]
    failed = []
    for r in reports:
        if "results" not in r:
            sys.exit(f"{path}: not a checkov report with results: {str(r)[:200]}")
        for check in r["results"].get("failed_checks", []):
            # `resource` is `<Type>.<LogicalId>`, e.g. AWS::Logs::LogGroup.scalerLambdaLogGroup
            logical_id = check["resource"].rsplit(".", 1)[-1]
            failed.append((check["check_id"], check["check_name"], logical_id, check["file_path"]))
    return failed


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    accepted = read_accepted(sys.argv[1])
    failed = failed_checks(sys.argv[2])

    per_file = Counter(file for _, _, _, file in failed)
    for file, count in sorted(per_file.items()):
        print(f"  {count:3} failed checks in {file.lstrip('/')}")

    new = sorted({f for f in failed if (f[0], f[2]) not in accepted})
    seen = {(check_id, logical_id) for check_id, _, logical_id, _ in failed}
    fixed = sorted(key for key in accepted if key not in seen)

    for check_id, name, logical_id, file in new:
        print(f"new checkov finding: {check_id} ({name}) on {logical_id} in {file.lstrip('/')}")
    for check_id, logical_id in fixed:
        print(f"fixed checkov finding: {check_id} on {logical_id} fails nowhere now; "
              f"remove it from {sys.argv[1]} and the README")
    if new or fixed:
        sys.exit(1)
    print(f"  every finding is accepted in {sys.argv[1]} ({len(seen)} check/resource pairs)")


if __name__ == "__main__":
    main()
