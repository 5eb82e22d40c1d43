#!/usr/bin/env python3
"""Invariants of the vibe chart, checked over rendered manifests (not by eye).

    render_test.py --helm HELM --chart CHART --renders DIR

DIR holds `<render>@<kubernetes version>.yaml` files made by `helm template` (see ./check).
For every Deployment of every render this asserts the gRPC probes, resources, security
context, autoscaler, PodDisruptionBudget, Service, spread, rollout and shutdown timing; for
every render the config file, secrets, NetworkPolicies (by evaluating them), helm test Job,
Ingress and ServiceMonitor. Then it runs helm with wrong values and expects errors naming
the value. Exits 1 listing every failed assertion.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

UID = GID = 1001
CONFIG_PATH = "/etc/vibe/vibe.toml"
GATEWAY_PORT, GRPC_PORT, METRICS_PORT = 8080, 50051, 9464
# The binary gives schema migration this long at start (src/app/domains.rs MIGRATE_TIMEOUT).
MIGRATE_TIMEOUT_S = 120
SERVICE_TARGETS = ("integration", "reasoning", "memory", "sync")
# What each render must contain: its Deployments' targets, and which of them scale.
KEYRING = "vibe-compliance-keyring"
KEYRING_ENV = "VIBE_COMPLIANCE__KEYRING__FILE"
KEYRING_DIR = "/var/run/secrets/vibe/compliance"
EXPECTED = {
    "default": {"targets": {"gateway", *SERVICE_TARGETS}, "pinned": {"integration"}, "https": False,
                "keyring": None},
    "production": {"targets": {"gateway", *SERVICE_TARGETS}, "pinned": set(), "https": True,
                   "keyring": KEYRING},
    "all-in-one": {"targets": {"all"}, "pinned": {"all"}, "https": False, "keyring": None},
    "features": {"targets": {"gateway", *SERVICE_TARGETS}, "pinned": {"integration"}, "https": True,
                 "keyring": KEYRING},
    "all-in-one-scale": {"targets": {"all"}, "pinned": set(), "https": True, "keyring": KEYRING},
}


class Checks:
    def __init__(self) -> None:
        self.count = 0
        self.failures: list[str] = []
        self.where = ""

    def that(self, condition: object, message: str) -> bool:
        self.count += 1
        if not condition:
            self.failures.append(f"{self.where}: {message}")
        return bool(condition)


check = Checks()


# --- small helpers ---------------------------------------------------------------------

def duration_seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h)", text)
    if not match:
        raise ValueError(f"unsupported duration {text!r}")
    value, unit = int(match.group(1)), match.group(2)
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


SUFFIXES = {"m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(value: object) -> float:
    match = re.fullmatch(r"([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?", str(value))
    if not match:
        raise ValueError(f"unsupported quantity {value!r}")
    return float(match.group(1)) * SUFFIXES[match.group(2) or ""]


def selects(selector: dict | None, labels: dict) -> bool:
    """A Kubernetes LabelSelector (matchLabels + matchExpressions) against labels."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def kube_minor(version: str) -> int:
    return int(version.split(".")[1])


# --- NetworkPolicy evaluation ----------------------------------------------------------

class Endpoint:
    """A pod (labels) or an outside address, in a namespace with labels."""

    def __init__(self, name, labels=None, namespace="shop", ns_labels=None, ip="10.1.2.3"):
        self.name, self.labels, self.namespace, self.ip = name, labels, namespace, ip
        self.ns_labels = ns_labels if ns_labels is not None else {
            "kubernetes.io/metadata.name": namespace}


def ip_in(ip: str, cidr: str, excepts: list[str]) -> bool:
    import ipaddress
    address = ipaddress.ip_address(ip)
    if address not in ipaddress.ip_network(cidr):
        return False
    return not any(address in ipaddress.ip_network(e) for e in excepts)


def peer_matches(peer: dict, endpoint: Endpoint, namespace: str) -> bool:
    if "ipBlock" in peer:
        return endpoint.labels is None and ip_in(
            endpoint.ip, peer["ipBlock"]["cidr"], peer["ipBlock"].get("except", []))
    if endpoint.labels is None:
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], endpoint.ns_labels):
            return False
    elif endpoint.namespace != namespace:
        return False
    if "podSelector" in peer:
        return selects(peer["podSelector"], endpoint.labels)
    return True


def port_matches(ports: list | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    return any(p.get("port") in (port, None) and p.get("protocol", "TCP") == protocol for p in ports)


def rule_allows(rule: dict, peers_key: str, peer: Endpoint, port: int, protocol: str, ns: str) -> bool:
    if not port_matches(rule.get("ports"), port, protocol):
        return False
    peers = rule.get(peers_key)
    if not peers:
        return True
    return any(peer_matches(p, peer, ns) for p in peers)


def direction_allows(policies, subject: Endpoint, peer: Endpoint, port, protocol, kind) -> bool:
    if subject.labels is None:
        return True  # not a pod of this namespace: its policies are not ours
    governing = [p for p in policies
                 if kind in p["spec"].get("policyTypes", [])
                 and selects(p["spec"]["podSelector"], subject.labels)]
    if not governing:
        return True
    rules_key, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
    return any(rule_allows(r, peers_key, peer, port, protocol, p["metadata"].get("namespace", "shop"))
               for p in governing for r in p["spec"].get(rules_key) or [])


def reachable(policies, source: Endpoint, destination: Endpoint, port: int, protocol="TCP") -> bool:
    return (direction_allows(policies, source, destination, port, protocol, "Egress")
            and direction_allows(policies, destination, source, port, protocol, "Ingress"))


# --- one render ------------------------------------------------------------------------

def check_render(render: str, kube: str, docs: list[dict]) -> None:
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for doc in docs:
        by_kind[doc["kind"]].append(doc)
    named = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    expected = EXPECTED[render]
    keyring_secret = expected["keyring"]

    check.where = f"{render}@{kube}"
    check.that(not by_kind.get("Secret"), "the chart renders no Secret (secrets are referenced by name)")
    for doc in docs:
        labels = doc["metadata"].get("labels") or {}
        check.that(labels.get("app.kubernetes.io/name") == "vibe" and labels.get("app.kubernetes.io/instance"),
                   f"{doc['kind']}/{doc['metadata']['name']} has the name and instance labels")

    # The config file every pod reads.
    maps = [m for m in by_kind["ConfigMap"] if "vibe.toml" in (m.get("data") or {})]
    if not check.that(len(maps) == 1, "one ConfigMap holds vibe.toml"):
        return
    config_map = maps[0]
    config = tomllib.loads(config_map["data"]["vibe.toml"])
    drain = duration_seconds(config["shutdown"]["drain_deadline"])
    backend = config["warehouse"]["backend"]
    check.that(config["listen"] == {"gateway": f"0.0.0.0:{GATEWAY_PORT}", "grpc": f"0.0.0.0:{GRPC_PORT}",
                                    "metrics": f"0.0.0.0:{METRICS_PORT}"},
               "the config listens on 0.0.0.0 on 8080, 50051 and 9464")
    secret_files = []
    if "redis" in config:
        secret_files.append(("redis.url", config["redis"]["url"]["file"]))
    check.that("compliance" not in config, "the shared config names no keyring (only compliance pods get it)")
    credentials = config["warehouse"].get("bigquery", {}).get("credentials", {})
    if credentials.get("kind") == "service_account_key":
        secret_files.append(("warehouse.bigquery.credentials.key", credentials["key"]["file"]))
    secret_like = re.compile(r"(^|\.)(url|key|password|token|secret)(\.|$)")
    for key, _ in _leaves(config):
        if secret_like.search(key) and not key.startswith("upstreams."):
            check.that(key.endswith(".file"), f"config key {key} is a file reference, never a secret value")

    deployments = by_kind["Deployment"]
    service_accounts = {s["metadata"]["name"]: s for s in by_kind["ServiceAccount"]}
    targets_seen = set()
    hosting: dict[str, dict] = {}  # target -> deployment
    for dep in deployments:
        name = dep["metadata"]["name"]
        check.where = f"{render}@{kube} Deployment/{name}"
        spec = dep["spec"]
        pod = spec["template"]
        pod_labels = pod["metadata"]["labels"]
        pod_spec = pod["spec"]
        check.that(selects(spec["selector"], pod_labels), "its selector matches its pod labels")
        containers = pod_spec["containers"]
        if not check.that(len(containers) == 1, "one container"):
            continue
        c = containers[0]
        args = c.get("args") or []
        check.that(len(args) == 5 and args[:2] == ["serve", "--target"] and args[3:] == ["--config", CONFIG_PATH],
                   f"runs `serve --target T --config {CONFIG_PATH}` (got {args})")
        target = args[2] if len(args) > 2 else "?"
        targets_seen.add(target)
        hosted = set(SERVICE_TARGETS) | {"gateway"} if target == "all" else {target}
        for t in hosted:
            hosting[t] = dep
        has_gateway = "gateway" in hosted
        has_grpc = bool(hosted & set(SERVICE_TARGETS))
        ports = {p["containerPort"]: p for p in c.get("ports", [])}
        want_ports = {METRICS_PORT} | ({GATEWAY_PORT} if has_gateway else set()) | ({GRPC_PORT} if has_grpc else set())
        check.that(set(ports) == want_ports, f"container ports {sorted(want_ports)} (got {sorted(ports)})")
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        keyring_file = env.pop(KEYRING_ENV, None)
        check.that(not any(name.startswith("VIBE_") and name != "VIBE_CONFIG" for name in env)
                   and not c.get("envFrom"),
                   f"no VIBE_* environment but {KEYRING_ENV} (every VIBE_* variable is a config key)")
        check.that(pod_spec.get("enableServiceLinks") is False,
                   "enableServiceLinks: false (service links would inject VIBE_* variables)")

        # Probes: native gRPC, liveness/startup on `liveness`, readiness on "".
        probe_port = GATEWAY_PORT if has_gateway else GRPC_PORT
        for kind, service in (("startupProbe", "liveness"), ("livenessProbe", "liveness"), ("readinessProbe", "")):
            probe = c.get(kind)
            if not check.that(probe and "grpc" in probe, f"{kind} is a gRPC probe"):
                continue
            check.that(not any(k in probe for k in ("httpGet", "tcpSocket", "exec")), f"{kind} has only the gRPC action")
            check.that(probe["grpc"]["port"] == probe_port and probe_port in ports,
                       f"{kind} asks port {probe_port}, a port of the container")
            check.that((probe["grpc"].get("service") or "") == service, f"{kind} asks health service {service!r}")
        startup = c.get("startupProbe") or {}
        budget = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
        check.that(budget > MIGRATE_TIMEOUT_S, f"the startup probe allows more than {MIGRATE_TIMEOUT_S}s (got {budget}s)")

        # Resources.
        resources = c.get("resources") or {}
        for section in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                check.that(resource in (resources.get(section) or {}), f"resources.{section}.{resource} is set")
        for resource in ("cpu", "memory"):
            try:
                check.that(quantity(resources["requests"][resource]) <= quantity(resources["limits"][resource]),
                           f"{resource} request <= limit")
            except (KeyError, ValueError):
                pass

        # Security context.
        psc = pod_spec.get("securityContext") or {}
        check.that(psc.get("runAsNonRoot") is True, "pod runAsNonRoot")
        check.that(psc.get("runAsUser") == UID and psc.get("runAsGroup") == GID and psc.get("fsGroup") == GID,
                   "pod runs as 1001:1001 with fsGroup 1001")
        check.that((psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", "pod seccomp RuntimeDefault")
        csc = c.get("securityContext") or {}
        check.that(csc.get("runAsNonRoot") is True and csc.get("runAsUser", UID) == UID
                   and csc.get("runAsGroup", GID) == GID, "container non-root 1001:1001")
        check.that(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
        check.that(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
        check.that(not csc.get("privileged"), "not privileged")
        caps = csc.get("capabilities") or {}
        check.that(caps.get("drop") == ["ALL"] and not caps.get("add"), "capabilities drop ALL, add none")
        check.that((csc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", "container seccomp RuntimeDefault")
        check.that(pod_spec.get("automountServiceAccountToken") is False, "no service account token in the pod")
        sa = service_accounts.get(pod_spec.get("serviceAccountName"))
        check.that(sa is not None and sa.get("automountServiceAccountToken") is False,
                   "its ServiceAccount is rendered with automountServiceAccountToken false")

        # Writable paths: only emptyDirs and claims; the config and secrets read-only.
        volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        for path, mount in mounts.items():
            volume = volumes.get(mount["name"], {})
            writable = not mount.get("readOnly")
            if writable:
                check.that("emptyDir" in volume or "persistentVolumeClaim" in volume,
                           f"writable mount {path} is an emptyDir or a claim")
        check.that("emptyDir" in volumes.get((mounts.get("/tmp") or {}).get("name", ""), {}), "/tmp is an emptyDir")
        config_mount = mounts.get(os.path.dirname(CONFIG_PATH)) or {}
        check.that(config_mount.get("readOnly") and
                   (volumes.get(config_mount.get("name"), {}).get("configMap") or {}).get("name")
                   == config_map["metadata"]["name"], f"the ConfigMap is mounted read-only at {os.path.dirname(CONFIG_PATH)}")
        owns_duckdb = backend == "duckdb" and "integration" in hosted
        data_volume = None
        if owns_duckdb:
            data_dir = os.path.dirname(config["warehouse"]["duckdb"]["path"])
            data_mount = mounts.get(data_dir)
            if check.that(data_mount and not data_mount.get("readOnly"), f"the DuckDB dir {data_dir} is mounted writable"):
                data_volume = volumes.get(data_mount["name"])
                if data_volume and "persistentVolumeClaim" in data_volume:
                    claim = data_volume["persistentVolumeClaim"]["claimName"]
                    check.that(("PersistentVolumeClaim", claim) in named, f"the claim {claim} is rendered")
        for key, file in secret_files:
            mount = mounts.get(os.path.dirname(file))
            volume = volumes.get((mount or {}).get("name"), {})
            items = (volume.get("secret") or {}).get("items") or []
            check.that(mount and mount.get("readOnly") and volume.get("secret", {}).get("secretName")
                       and any(i["path"] == os.path.basename(file) for i in items),
                       f"{key}'s file {file} is mounted read-only from a Secret (every process reads the whole config)")

        # The compliance keyring: in the pods that host integration, and only there.
        keyring_mounts = [m for m in mounts.values()
                          if m["mountPath"] == KEYRING_DIR or (keyring_secret and (
                              volumes.get(m["name"], {}).get("secret") or {}).get("secretName") == keyring_secret)]
        if keyring_secret and "integration" in hosted:
            mount = mounts.get(os.path.dirname(keyring_file or ""))
            volume = volumes.get((mount or {}).get("name"), {})
            items = (volume.get("secret") or {}).get("items") or []
            check.that(keyring_file and mount and mount.get("readOnly")
                       and (volume.get("secret") or {}).get("secretName") == keyring_secret
                       and any(i["path"] == os.path.basename(keyring_file) for i in items),
                       f"{KEYRING_ENV} names the keyring file, mounted read-only from its Secret")
        else:
            check.that(keyring_file is None and not keyring_mounts,
                       "no keyring where compliance does not run")

        # Shutdown: preStop pause, then SIGTERM and the drain, inside the grace period.
        pre_stop = ((c.get("lifecycle") or {}).get("preStop")) or {}
        if kube_minor(kube) >= 30:
            pause = (pre_stop.get("sleep") or {}).get("seconds")
            check.that(pause, "preStop is the native sleep action (Kubernetes >= 1.30)")
        else:
            command = (pre_stop.get("exec") or {}).get("command") or []
            pause = int(command[1]) if len(command) == 2 and command[0] == "/usr/local/bin/sleep" else None
            check.that(pause, "preStop execs the image's sleep (the sleep action is alpha before 1.30)")
        grace = pod_spec.get("terminationGracePeriodSeconds", 30)
        check.that(grace > drain + (pause or 0),
                   f"terminationGracePeriodSeconds {grace} > preStop {pause}s + drain_deadline {drain}s")

        # Rollout: never below the wanted replicas, except a claim that one writer holds.
        strategy = spec.get("strategy") or {}
        if data_volume and "persistentVolumeClaim" in data_volume:
            check.that(strategy.get("type") == "Recreate", "a Deployment owning the DuckDB claim uses Recreate")
        else:
            rolling = strategy.get("rollingUpdate") or {}
            check.that(strategy.get("type") == "RollingUpdate" and rolling.get("maxUnavailable") in (0, "0%"),
                       "RollingUpdate with maxUnavailable 0")
            check.that(rolling.get("maxSurge") not in (0, "0%", None), "maxSurge above 0")

        # Spread.
        spread = pod_spec.get("topologySpreadConstraints") or []
        check.that(spread and all(selects(t.get("labelSelector"), pod_labels) for t in spread),
                   "topologySpreadConstraints select its own pods")
        for other in deployments:
            if other is not dep:
                check.that(not any(selects(t.get("labelSelector"), other["spec"]["template"]["metadata"]["labels"])
                                   for t in spread), f"its spread ignores {other['metadata']['name']}'s pods")

        # Autoscaling.
        hpas = [h for h in by_kind["HorizontalPodAutoscaler"]
                if h["spec"]["scaleTargetRef"].get("kind") == "Deployment" and h["spec"]["scaleTargetRef"]["name"] == name]
        scaled = [s for s in by_kind["ScaledObject"] if s["spec"]["scaleTargetRef"]["name"] == name]
        pinned = backend == "duckdb" and "integration" in hosted
        check.that(pinned == (target in expected["pinned"]), f"pinned to one replica: {pinned}")
        if pinned:
            check.that(spec.get("replicas") == 1, "owns the DuckDB file: exactly 1 replica")
            check.that(not hpas and not scaled, "owns the DuckDB file: no autoscaler")
        else:
            check.that(len(hpas) + len(scaled) == 1, "exactly one autoscaler (HPA, or a KEDA ScaledObject) targets it")
            check.that("replicas" not in spec, "no fixed spec.replicas (the autoscaler owns it)")
            for hpa in hpas:
                check.that(hpa["apiVersion"] == "autoscaling/v2", "the HPA is autoscaling/v2")
                check.that(hpa["spec"]["scaleTargetRef"].get("apiVersion") == "apps/v1", "the HPA targets apps/v1")
                resources_scaled = {m["resource"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource"}
                check.that({"cpu", "memory"} <= resources_scaled, "the HPA scales on CPU and memory")
                check.that(1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"], "HPA 1 <= min <= max")
            for so in scaled:
                kinds = {t["type"] for t in so["spec"]["triggers"]}
                check.that({"cpu", "memory", "prometheus"} <= kinds, "the ScaledObject scales on CPU, memory and queue lag")

        # Disruption budget.
        pdbs = [p for p in by_kind["PodDisruptionBudget"] if selects(p["spec"]["selector"], pod_labels)]
        if check.that(len(pdbs) == 1, "exactly one PodDisruptionBudget selects its pods"):
            pdb = pdbs[0]
            check.that(pdb["apiVersion"] == "policy/v1", "the PDB is policy/v1")
            for other in deployments:
                if other is not dep:
                    check.that(not selects(pdb["spec"]["selector"], other["spec"]["template"]["metadata"]["labels"]),
                               f"its PDB does not select {other['metadata']['name']}'s pods")
            check.that(pdb["spec"].get("maxUnavailable") not in (None, 0, "0%"), "the PDB lets a drain evict a pod")

        # Service: every listener behind one Service.
        services = [s for s in by_kind["Service"] if selects({"matchLabels": s["spec"]["selector"]}, pod_labels)]
        if check.that(len(services) == 1, "exactly one Service selects its pods"):
            by_port = {p["port"]: p for p in services[0]["spec"]["ports"]}
            for port in want_ports:
                service_port = by_port.get(port)
                ok = service_port and (service_port.get("targetPort") in (port, (ports.get(port) or {}).get("name")))
                check.that(ok, f"its Service exposes {port}")
            check.that((by_port.get(METRICS_PORT) or {}).get("name") == "metrics", "the metrics port is named metrics")

    check.where = f"{render}@{kube}"
    check.that(targets_seen == expected["targets"], f"Deployments run {sorted(expected['targets'])} (got {sorted(targets_seen)})")
    check.that(len(deployments) == len(targets_seen), "one Deployment per target")
    namespace = config_map["metadata"].get("namespace", "shop")

    def service_for(target: str):
        dep = hosting.get(target)
        if not dep:
            return None
        labels = dep["spec"]["template"]["metadata"]["labels"]
        return next((s for s in by_kind["Service"] if selects({"matchLabels": s["spec"]["selector"]}, labels)), None)

    # Split mode: each upstream names the Service of the Deployment hosting that target.
    if "all" not in targets_seen:
        for target in SERVICE_TARGETS:
            url = config.get("upstreams", {}).get(target, "")
            service = service_for(target)
            check.that(service and url == f"http://{service['metadata']['name']}.{namespace}.svc:{GRPC_PORT}",
                       f"upstreams.{target} is its Service on {GRPC_PORT} (got {url!r})")

    # helm test: `vibe probe` against the gateway Service.
    jobs = [j for j in by_kind["Job"] if (j["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"]
    gateway_service = service_for("gateway")
    if check.that(len(jobs) == 1 and gateway_service, "one helm test Job, and a gateway Service"):
        job_spec = jobs[0]["spec"]["template"]["spec"]
        args = job_spec["containers"][0]["args"]
        check.that(args[:3] == ["probe", "--addr", f"{gateway_service['metadata']['name']}.{namespace}.svc:{GATEWAY_PORT}"],
                   f"the test Job runs `vibe probe --addr <gateway Service>:{GATEWAY_PORT}` (got {args})")
        csc = job_spec["containers"][0].get("securityContext") or {}
        check.that(job_spec.get("enableServiceLinks") is False and job_spec.get("automountServiceAccountToken") is False
                   and csc.get("readOnlyRootFilesystem") is True and (caps := csc.get("capabilities") or {}).get("drop") == ["ALL"]
                   and (job_spec.get("securityContext") or {}).get("runAsUser") == UID,
                   "the test Job's pod is locked down like the others")

    # NetworkPolicies, evaluated.
    policies = by_kind["NetworkPolicy"]
    if check.that(policies, "NetworkPolicies are rendered"):
        pods = {t: Endpoint(f"pod:{t}", d["spec"]["template"]["metadata"]["labels"], namespace)
                for t, d in hosting.items()}
        deny = [p for p in policies if not p["spec"].get("ingress") and not p["spec"].get("egress")
                and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}]
        check.that(deny and all(any(selects(p["spec"]["podSelector"], e.labels) for p in deny) for e in pods.values()),
                   "a default-deny policy (ingress and egress) selects every vibe pod")
        outsider = Endpoint("another namespace's pod", {"app": "client"}, "elsewhere")
        ingress_controller = Endpoint("ingress controller", {"app": "ingress-nginx"}, "ingress-nginx")
        internet = Endpoint("an outside address", None, "", ip="203.0.113.9")
        gateway_pod = pods["gateway"]
        check.that(reachable(policies, ingress_controller, gateway_pod, GATEWAY_PORT),
                   "the ingress controller may reach the gateway on 8080")
        for target in SERVICE_TARGETS:
            pod = pods[target]
            check.that(not reachable(policies, outsider, pod, GRPC_PORT), f"outsiders cannot reach {target} on {GRPC_PORT}")
            check.that(reachable(policies, gateway_pod, pod, GRPC_PORT), f"the gateway reaches {target} on {GRPC_PORT}")
            for other in SERVICE_TARGETS:
                check.that(reachable(policies, pods[other], pod, GRPC_PORT), f"{other} reaches {target} on {GRPC_PORT}")
        for t, pod in pods.items():
            check.that(reachable(policies, pod, Endpoint("kube-dns", {"k8s-app": "kube-dns"}, "kube-system",
                                                         {"kubernetes.io/metadata.name": "kube-system"}), 53, "UDP"),
                       f"{t} may resolve DNS")
            check.that(not reachable(policies, pod, internet, 22), f"{t} has no egress to arbitrary ports")
            check.that(reachable(policies, Endpoint("prometheus", {"app": "prometheus"}, "monitoring"), pod, METRICS_PORT),
                       f"Prometheus in the monitoring namespace may scrape {t}")
            if "redis" in config:
                check.that(reachable(policies, pod, Endpoint("redis", {"app.kubernetes.io/name": "redis"}, namespace), 6379),
                           f"{t} may reach Redis on 6379")
            else:
                check.that(not reachable(policies, pod, Endpoint("redis", {"app.kubernetes.io/name": "redis"}, namespace), 6379),
                           f"{t} has no Redis egress without Redis")
            check.that(reachable(policies, pod, internet, 443) == expected["https"],
                       f"{t} has HTTPS egress exactly when BigQuery (or networkPolicy.extraEgress) needs it")
        if jobs:
            test_pod = Endpoint("helm test", jobs[0]["spec"]["template"]["metadata"]["labels"], namespace)
            check.that(reachable(policies, test_pod, gateway_pod, GATEWAY_PORT), "the helm test pod reaches the gateway")

    # Ingress: to the gateway Service's gRPC port.
    for ingress in by_kind["Ingress"]:
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend_service = path["backend"]["service"]
                ports = {p["name"] for p in (gateway_service or {}).get("spec", {}).get("ports", [])}
                check.that(backend_service["name"] == (gateway_service or {}).get("metadata", {}).get("name")
                           and backend_service["port"].get("name") in ports, "the Ingress routes to the gateway Service")
    # ServiceMonitor: every component Service, on its metrics port.
    for monitor in by_kind["ServiceMonitor"]:
        selected = [s for s in by_kind["Service"] if selects(monitor["spec"]["selector"], s["metadata"]["labels"])]
        check.that(len(selected) == len(deployments), "the ServiceMonitor selects every component's Service")
        check.that(all(any(p["name"] == "metrics" for p in s["spec"]["ports"]) for s in selected),
                   "each selected Service has a metrics port")


def _leaves(table: dict, prefix: str = ""):
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _leaves(value, path + ".")
        else:
            yield path, value


# --- the binary, when given: does it accept every rendered config? ------------------------

def check_with_binary(binary: str, render: str, config_text: str) -> None:
    check.where = f"{render} vibe config check"
    with tempfile.TemporaryDirectory() as tmp:
        text = config_text
        for secret in re.findall(r'file = "([^"]+)"', config_text):
            local = Path(tmp) / secret.strip("/").replace("/", "_")
            local.write_text("redis://127.0.0.1:6379/0\n" if "redis" in secret else '{"type": "service_account"}\n')
            text = text.replace(f'"{secret}"', json.dumps(str(local)))
        path = Path(tmp) / "vibe.toml"
        path.write_text(text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIBE_")}
        # What compliance pods add: the keyring file, from the environment.
        keyring = Path(tmp) / "keyring.toml"
        keyring.write_text(subprocess.run([binary, "keyring"], capture_output=True, text=True, check=True).stdout)
        env[KEYRING_ENV] = str(keyring)
        run = subprocess.run([binary, "config", "check", "--config", str(path)], capture_output=True, text=True, env=env)
        check.that(run.returncode == 0, f"the binary accepts the rendered config: {run.stderr.strip()[:300]}")


# --- values that must fail ------------------------------------------------------------------

NEGATIVE = [
    # (values arguments, what the error must contain)
    (["--set", "gateway.replicas=many"], ["/gateway/replicas", "integer"]),
    (["--set", "replicas=3"], ["additional properties", "'replicas'"]),
    (["--set", "gateway.replica=2"], ["/gateway", "'replica'"]),
    (["--set", "config.warehouse.backend=postgres"], ["/config/warehouse/backend"]),
    (["--set", "config.shutdown.drain_deadline=20"], ["/config/shutdown/drain_deadline"]),
    (["--set", "config.shutdown.drain_deadline=0s"], ["/config/shutdown/drain_deadline"]),
    (["--set", "config.cache.bogus=1"], ["/config/cache", "'bogus'"]),
    (["--set", "securityContext.runAsUser=0"], ["/securityContext/runAsUser"]),
    (["--set", "gateway.resources.limits=null"], ["/gateway/resources", "limits"]),
    (["--set", "mode=distributed"], ["/mode"]),
    (["--set", "config.gateway.cors_origins={*}"], ["/config/gateway/cors_origins"]),
    (["--set", "config.gateway.rate_limits.staff=0"], ["/config/gateway/rate_limits/staff"]),
    (["--set-string", "reasoning.podLabels.app\\.kubernetes\\.io/component=x"], ["/reasoning/podLabels"]),
    (["--set", "integration.replicas=2"], ["integration.replicas", "single-writer"]),
    (["--set", "integration.autoscaling.enabled=true"], ["integration.autoscaling.enabled", "single-writer"]),
    (["--set", "mode=allInOne", "--set", "allInOne.replicas=3"], ["allInOne.replicas", "single-writer"]),
    (["-f", "{chart}/values-production.yaml", "--set", "secrets.googleCredentials.secretName="],
     ["secrets.googleCredentials.secretName"]),
    (["-f", "{chart}/values-production.yaml", "--set", "config.warehouse.bigquery.project="],
     ["config.warehouse.bigquery.project"]),
    (["-f", "{chart}/values-production.yaml", "--set", "persistence.enabled=true"], ["persistence.enabled"]),
    (["--set", "queueLagScaling.enabled=true", "--set", "reasoning.autoscaling.enabled=false"],
     ["queueLagScaling.enabled", "reasoning.autoscaling.enabled"]),
]


def check_negative(helm: str, chart: str) -> None:
    for args, needles in NEGATIVE:
        args = [a.replace("{chart}", chart) for a in args]
        check.where = f"helm template {' '.join(args)}"
        run = subprocess.run([helm, "template", "vibe", chart, *args], capture_output=True, text=True)
        output = run.stdout + run.stderr
        check.that(run.returncode != 0, "fails")
        missing = [n for n in needles if n not in output]
        check.that(not missing, f"the error names {missing}: {output.strip()[-300:]}")


# --- the schema and the README ----------------------------------------------------------------

COMPONENT_KEYS = ["gateway", "integration", "reasoning", "memory", "sync", "allInOne"]
OPEN_OBJECTS = {"nodeAffinity", "podAffinity", "podAntiAffinity"}  # Kubernetes structures, checked by the API server


def check_schema_closed(node, path="") -> None:
    if isinstance(node, dict):
        if node.get("type") == "object" and path.rsplit("/", 1)[-1] not in OPEN_OBJECTS:
            check.that("additionalProperties" in node, f"values.schema.json{path or '/'} says which keys it allows")
        for key, value in node.items():
            check_schema_closed(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            check_schema_closed(value, f"{path}/{index}")


def value_paths(values, prefix=""):
    if isinstance(values, dict) and values:
        for key, value in values.items():
            yield from value_paths(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix


def check_docs(chart: Path) -> None:
    check.where = "values.schema.json"
    check_schema_closed(json.loads((chart / "values.schema.json").read_text()))
    check.where = "README.md"
    readme = (chart / "README.md").read_text()
    documented = set()
    for key in re.findall(r"^\| `([^`]+)` \|", readme, re.M):
        names = COMPONENT_KEYS if key.startswith("<component>") else [None]
        documented |= {key.replace("<component>", n) if n else key for n in names}
    values = yaml.safe_load((chart / "values.yaml").read_text())
    for path in value_paths(values):
        parent = path
        covered = False
        while parent:  # a map documented as a whole (e.g. resources) covers its keys
            if parent in documented:
                covered = True
                break
            parent = parent.rpartition(".")[0]
        check.that(covered, f"documents `{path}` in the values table")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--helm", required=True)
    parser.add_argument("--chart", required=True)
    parser.add_argument("--renders", required=True)
    parser.add_argument("--vibe-binary", help="also run `vibe config check` on every rendered config")
    args = parser.parse_args()

    files = sorted(Path(args.renders).glob("*@*.yaml"))
    if not files:
        print(f"render_test: no renders in {args.renders}", file=sys.stderr)
        return 1
    for file in files:
        render, kube = file.stem.split("@")
        docs = [d for d in yaml.safe_load_all(file.read_text()) if d]
        check_render(render, kube, docs)
        if args.vibe_binary:
            config_map = next(d for d in docs if d["kind"] == "ConfigMap")
            check_with_binary(args.vibe_binary, file.stem, config_map["data"]["vibe.toml"])
    check_negative(args.helm, args.chart)
    check_docs(Path(args.chart))

    if check.failures:
        print(f"render_test: {len(check.failures)} of {check.count} assertions failed:", file=sys.stderr)
        for failure in check.failures:
            print(f"  FAIL {failure}", file=sys.stderr)
        return 1
    print(f"render_test: all {check.count} assertions hold over {len(files)} renders and {len(NEGATIVE)} rejected value sets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
