#!/usr/bin/env bash
# Mutation testing of one core module at a time (README, "Mutation testing"):
#   tools/mutation.sh wisgate_nb/records/budget.py [more modules...]
# mutmut (the dev extra) mutates only the modules of [tool.mutmut] in pyproject.toml and runs the fast unit
# tests listed there against each mutant, one process at a time (the machine is shared). Its work is kept in
# mutants/ (git-ignored): a second run re-tests only what changed. Prints killed/total per module and the
# survivors; `mutmut show NAME` shows one.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: tools/mutation.sh wisgate_nb/MODULE.py [...]" >&2; exit 2; }
unset PYTHONPATH  # mutmut puts its mutated copy first on sys.path; a worktree on PYTHONPATH would shadow it
mkdir -p mutants  # mutmut's work; the log of the last run goes there too
status=0
for module in "$@"; do
  [ -f "$module" ] || { echo "no such module: $module" >&2; exit 2; }
  grep -q "\"$module\"" pyproject.toml || { echo "$module is not in [tool.mutmut] only_mutate" >&2; exit 2; }
  name=${module%.py}; name=${name//\//.}
  if ! mutmut run --max-children "${MUTATION_JOBS:-1}" "$name.*" >mutants/last-run.log 2>&1; then
    echo "mutmut failed on $module (survivors do not fail it; mutants/last-run.log says why):" >&2
    tail -n 20 mutants/last-run.log >&2
    status=1
    continue
  fi
  python - "$name" <<'PY'
import subprocess, sys
name = sys.argv[1]
out = subprocess.run(["mutmut", "results", "--all", "true"], capture_output=True, text=True).stdout
rows = [line.strip().rsplit(": ", 1) for line in out.splitlines() if line.strip().startswith(name + ".")]
verdicts = {}
for mutant, verdict in rows:
    verdicts.setdefault(verdict, []).append(mutant)
total, killed = len(rows), len(verdicts.get("killed", []))
print(f"{name}: {killed} of {total} mutants killed ({100 * killed / max(total, 1):.1f} %)")
for verdict, mutants in sorted(verdicts.items()):
    if verdict != "killed":  # one line per function: its mutant numbers (mutmut show NAME for one)
        by_function = {}
        for mutant in mutants:
            function, number = mutant[len(name) + 1:].rsplit("__mutmut_", 1)
            by_function.setdefault(function, []).append(int(number))
        for function, numbers in sorted(by_function.items()):
            print(f"  {verdict}: {name}.{function}__mutmut_{{{','.join(map(str, sorted(numbers)))}}}")
PY
done
exit $status
