#!/usr/bin/env bash
# Offline checks of the image definitions (packer/):
# - `packer validate` of each template with the Packer Debian packages (1.6.6), which has no
#   `packer init`: plugins.pkr.hcl and the blocks between `# BEGIN packer>=1.7` and
#   `# END packer>=1.7` are left out of the copy it validates;
# - shellcheck on every shell script of the repository;
# - the goss manifest renders with each release's variables into valid YAML;
# - JSON, plist and Python files parse.
# Needs packer and shellcheck (Debian packages) and python3 with PyYAML (.venv has it).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "==> packer validate ($(packer version | head -n 1))"
for os in linux windows macos; do
  cp -r "packer/$os" "$work/$os"
  rm -f "$work/$os/plugins.pkr.hcl"
  for template in "$work/$os"/*.pkr.hcl; do
    sed -i '/# BEGIN packer>=1.7/,/# END packer>=1.7/d' "$template"
  done
  vars=(-var stack_version=v0.0.0 -var hash=0123456789abcdef0123456789abcdef -var region=us-east-1
        -var arch=x86_64 -var agent_version=v2.2.16 -var toolbox_version=v1.38.4)
  if [ "$os" != windows ]; then
    vars+=(-var "instance_binary=$PWD/Makefile" -var "agent_binary=$PWD/Makefile")
  fi
  (cd "$work/$os" && packer validate "${vars[@]}" .)
  if [ "$os" = linux ]; then
    for release in focal:20.04 jammy:22.04 noble:24.04; do
      (cd "$work/linux" && packer validate "${vars[@]}" -var "ubuntu_name=${release%%:*}" \
        -var "ubuntu_version=${release##*:}" -var source_ami=ami-0123456789abcdef0 .)
    done
  fi
done

echo "==> shellcheck"
mapfile -t scripts < <(
  git ls-files --cached --others --exclude-standard '*.sh' 'packer/*/files/shutdown' | sort -u
)
shellcheck -x "${scripts[@]}"
echo "${#scripts[@]} scripts clean"

echo "==> goss manifest, JSON, plist and Python files"
"$PYTHON" - <<'PY'
import glob, json, plistlib, py_compile, re, sys
import yaml

def render(template, variables):
    """The subset of Go templates goss.yaml uses: {{ .Vars.x }} and one range block."""
    def expand_range(match):
        items = variables[match.group(1)]
        return "".join(match.group(2).replace("{{ . }}", str(item)) for item in items)
    text = re.sub(r"\{\{- range \.Vars\.(\w+) \}\}(.*?)\{\{- end \}\}", expand_range, template, flags=re.S)
    text = re.sub(r"\{\{ \.Vars\.(\w+) \}\}", lambda m: str(variables[m.group(1)]), text)
    if "{{" in text:
        sys.exit("goss.yaml uses template constructs this check does not render")
    return text

template = open("packer/linux/goss/goss.yaml").read()
for path in sorted(glob.glob("packer/linux/goss/vars-*.yml")):
    variables = yaml.safe_load(open(path))
    rendered = yaml.safe_load(render(template, variables))
    packages = rendered["package"]
    missing = [p for p in variables["packages"] if not packages.get(p, {}).get("installed")]
    assert not missing, (path, missing)
    assert rendered["service"]["semaphore-agent"] == {"enabled": False, "running": True}
    print(f"{path}: {sum(len(v) for v in rendered.values())} checks")
for path in glob.glob("packer/*/files/*.json"):
    json.load(open(path))
for path in glob.glob("packer/*/files/*.plist"):
    plistlib.load(open(path, "rb"))
for path in glob.glob("packer/*/files/*.py"):
    py_compile.compile(path, cfile=None, doraise=True, optimize=-1)
print("ok")
PY
find packer -name __pycache__ -prune -exec rm -rf {} +
echo "==> image definitions are valid"
