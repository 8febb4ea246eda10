#!/usr/bin/env bash
# deploy.validate: checks the deployment files with the tools this machine has. Each check
# says PASS, FAIL or SKIP (tool missing); exits 1 on any FAIL, 77 when every check skipped.
#   tests/deploy/validate.sh SOURCE_DIR [MOTION_SERVER_BINARY]
set -u
src=${1:?source dir}
bin=${2:-}
[ -n "$bin" ] && bin=$(realpath "$bin" 2>/dev/null || echo "$bin")
dep="$src/deploy"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0 skip=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
sk() { echo "SKIP: $*"; skip=$((skip + 1)); }

# 1. systemd unit: systemd-analyze verify prints warnings (unknown keys, bad values) but
#    still exits 0, so any output fails. ExecStart must exist: point it at the built binary.
if command -v systemd-analyze >/dev/null 2>&1 && [ -n "$bin" ] && [ -x "$bin" ]; then
  unit="$tmp/avatarkit-motion-server.service"
  sed -e "s#/usr/local/bin/avatarkit-motion-server#$bin#" \
      -e "s#^EnvironmentFile=/#EnvironmentFile=-/#" "$dep/avatarkit-motion-server.service" > "$unit"
  out=$(systemd-analyze verify "$unit" 2>&1); rc=$?
  if [ $rc -eq 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify"; else ko "systemd-analyze verify: $out"; fi
  score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  if [ -z "$score" ]; then sk "systemd-analyze security --offline (not supported here)"
  elif awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then ok "systemd-analyze security: exposure $score (<= 2.0)"
  else ko "systemd-analyze security: exposure $score (> 2.0)"; fi
  # The stop timeout must lie above the drain timeout plus the 2 s close grace.
  drain=$(sed -n 's/.*--drain-timeout \([0-9]*\).*/\1/p' "$dep/avatarkit-motion-server.service" | head -1)
  stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$dep/avatarkit-motion-server.service")
  if [ -n "$drain" ] && [ -n "$stop" ] && [ "$stop" -gt $((drain + 2)) ]; then ok "TimeoutStopSec $stop > drain $drain + 2"
  else ko "TimeoutStopSec ($stop) not above --drain-timeout ($drain) + 2"; fi
else
  sk "systemd unit (no systemd-analyze or no binary)"
fi

# 2. HAProxy config.
if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then
  hp=$(command -v haproxy || echo /usr/sbin/haproxy)
  if out=$("$hp" -c -f "$dep/haproxy.cfg" 2>&1); then ok "haproxy -c"; else ko "haproxy -c: $out"; fi
else
  sk "haproxy -c (apt-get install haproxy)"
fi

# 3. Kubernetes manifests: YAML parse plus the structure the docs promise (no cluster and no
#    schema validator here).
py=/usr/bin/python3
if [ -x $py ] && $py -c 'import yaml' 2>/dev/null; then
  if out=$($py - "$dep/k8s/motion-server.yaml" <<'PYEOF' 2>&1
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {d["kind"]: d for d in docs}
for k in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
    assert k in kinds, f"missing {k}"
    assert kinds[k].get("apiVersion") and kinds[k].get("metadata", {}).get("name"), k
dep = kinds["Deployment"]
spec = dep["spec"]["template"]["spec"]
c = spec["containers"][0]
for p in ("readinessProbe", "livenessProbe"):
    assert c[p]["httpGet"]["path"] == "/healthz", p
args = c["args"]
drain = int(args[args.index("--drain-timeout") + 1])
pre = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
assert spec["terminationGracePeriodSeconds"] > pre + drain + 2, "grace period below preStop + drain"
lv = c["livenessProbe"]
assert lv["periodSeconds"] * lv["failureThreshold"] > drain + 2, "liveness would kill a draining pod"
sel = dep["spec"]["selector"]["matchLabels"]
assert dep["spec"]["template"]["metadata"]["labels"].items() >= sel.items()
for k in ("Service", "PodDisruptionBudget"):
    s = kinds[k]["spec"]["selector"]
    s = s.get("matchLabels", s)
    assert s == sel, f"{k} selector"
hpa = kinds["HorizontalPodAutoscaler"]["spec"]
assert hpa["scaleTargetRef"]["name"] == dep["metadata"]["name"]
assert hpa["metrics"][0]["pods"]["metric"]["name"] == "avatarkit_sessions_active"
print("ok", len(docs))
PYEOF
  ); then ok "k8s manifests parse and hang together ($out)"; else ko "k8s manifests: $out"; fi
else
  sk "k8s manifests (apt-get install python3-yaml)"
fi

# 4. Dockerfile: no Docker daemon here. Check what can be: the runtime stage installs the
#    package of every shared library the built binary needs, and the stages build it.
df="$dep/Dockerfile"
if [ -n "$bin" ] && [ -x "$bin" ] && command -v readelf >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
  missing=""
  for lib in $(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
    pkg=$(dpkg -S "*/$lib" 2>/dev/null | grep -v i386 | head -1 | cut -d: -f1)
    # libc, and sanitizer runtimes of an ASan/UBSan build (never in an image)
    case "$pkg" in libc6|libasan*|libubsan*|liblsan*|libtsan*|"") continue ;; esac
    grep -q "\b$pkg\b" "$df" || missing="$missing $pkg($lib)"
  done
  if [ -z "$missing" ]; then ok "Dockerfile runtime packages cover the binary's libraries"
  else ko "Dockerfile runtime stage lacks:$missing"; fi
else
  sk "Dockerfile library check (no binary, readelf or dpkg)"
fi
for want in '^FROM debian:12 AS build' '^FROM debian:12' '^USER ' '^HEALTHCHECK ' 'CMD curl -fsS http://127.0.0.1:8080/healthz' 'install-deps.sh'; do
  if grep -q "$want" "$df"; then ok "Dockerfile has $want"; else ko "Dockerfile lacks $want"; fi
done
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  sk "docker build (a daemon exists, but the build downloads packages: run it by hand)"
else
  sk "docker build (no Docker daemon here)"
fi

echo "deploy.validate: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ] || exit 1
[ $pass -gt 0 ] || exit 77
exit 0
