"""What a cluster would do with the rendered manifests, where no validator can tell: small
models of the kubelet, cluster DNS, NetworkPolicy, Pod Security admission and the operators
that turn leitai's custom resources into pods. Each is written from the upstream source or
documentation it cites, and covers only what leitai's manifests use."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from tests.support.manifests import data_of, named, of_kind, pod_spec


# -- the kubelet: what a container sees at a path ---------------------------------------
def mounted_files(spec: dict, container: dict, path: str, objects: list[dict]) -> dict[str, str] | None:
    """The files a volume mounted at ``path`` shows (ConfigMap and Secret keys, projected or
    not), or None when no volume is mounted there: the image's own files show then. A mount
    hides whatever the image has at its path (https://kubernetes.io/docs/concepts/storage/volumes/)."""
    mount = next((m for m in container.get("volumeMounts", []) if m["mountPath"].rstrip("/") == path), None)
    if mount is None:
        return None
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    sources = volume["projected"]["sources"] if "projected" in volume else [volume]
    files: dict[str, str] = {}
    for source in sources:
        kind = "ConfigMap" if "configMap" in source else "Secret" if "secret" in source else None
        if kind is None:
            continue  # an emptyDir: empty
        ref = source["configMap"] if kind == "ConfigMap" else source["secret"]
        name = ref.get("name") or ref.get("secretName")
        data = data_of(named(objects, kind, name))
        items = ref.get("items")
        files.update({i["path"]: data[i["key"]] for i in items} if items else data)
    return files


def writable(workload: dict, container: dict, path: str) -> bool:
    """Whether the container can write at ``path``: under a writable mount of an emptyDir or a
    volume claim, or anywhere if its root filesystem is not read-only."""
    spec = pod_spec(workload)
    claims = {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        under = path == mount["mountPath"] or path.startswith(mount["mountPath"].rstrip("/") + "/")
        if under and not mount.get("readOnly"):
            volume = volumes.get(mount["name"], {})
            if mount["name"] in claims or "emptyDir" in volume or "persistentVolumeClaim" in volume:
                return True
    return not (container.get("securityContext") or {}).get("readOnlyRootFilesystem")


# -- cluster DNS ---------------------------------------------------------------------------
def names_before_ready(statefulset: dict, objects: list[dict]) -> set[str]:
    """The DNS names of a StatefulSet's pods that resolve while the pods are not ready. A pod of a
    StatefulSet is named <pod>.<governing Service> only through that headless Service's
    endpoints, which hold not-ready pods only with publishNotReadyAddresses
    (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pods,
    https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/)."""
    service = named(objects, "Service", statefulset["spec"]["serviceName"])
    spec = service["spec"]
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    if spec.get("clusterIP") != "None" or not selects(spec.get("selector") or {}, pod_labels):
        return set()
    if not spec.get("publishNotReadyAddresses"):
        return set()
    name, service_name = statefulset["metadata"]["name"], service["metadata"]["name"]
    return {f"{name}-{i}.{service_name}" for i in range(statefulset["spec"].get("replicas", 1))}


def selects(match_labels: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in match_labels.items())


# -- the operators: the pods they make of leitai's custom resources ----------------------
def merged(base: dict, override: dict) -> dict:
    """``override`` laid over ``base`` as both operators lay a resource's statefulSet override
    over the StatefulSet they build: maps merged key by key, containers, init containers and
    volumes by name, other lists replaced (rabbitmq/cluster-operator internal/resource/
    statefulset.go applyStsOverride, a strategic merge patch; mongodb/mongodb-kubernetes
    pkg/kube/statefulset Merge)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        elif key in ("containers", "initContainers", "volumes") and isinstance(value, list):
            by_name = {item["name"]: item for item in out.get(key, [])}
            for item in value:
                by_name[item["name"]] = merged(by_name.get(item["name"], {}), item)
            out[key] = list(by_name.values())
        else:
            out[key] = copy.deepcopy(value)
    return out


_RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
}


def rabbitmq_cluster_pod(cluster: dict) -> dict:
    """The pod template the RabbitMQ Cluster Operator makes of a RabbitmqCluster, as far as
    leitai's checks read it (rabbitmq/cluster-operator 06cda8e8, internal/resource/
    statefulset.go podTemplateSpec and setupContainer, internal/metadata/label.go Label): the
    operator's own labels only (the RabbitmqCluster's are not passed on), then the override."""
    name = cluster["metadata"]["name"]
    restricted = dict(_RESTRICTED_CONTAINER, runAsNonRoot=True, privileged=False)
    restricted["seccompProfile"] = {"type": "RuntimeDefault"}
    template = {
        "metadata": {
            "labels": {
                "app.kubernetes.io/name": name,
                "app.kubernetes.io/component": "rabbitmq",
                "app.kubernetes.io/part-of": "rabbitmq",
            }
        },
        "spec": {
            "serviceAccountName": f"{name}-server",
            "automountServiceAccountToken": True,
            "affinity": copy.deepcopy(cluster["spec"].get("affinity", {})),
            "topologySpreadConstraints": [  # defaultTopologySpreadConstraints
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
                }
            ],
            "securityContext": {
                "fsGroup": 0,
                "runAsUser": 999,
                "runAsNonRoot": True,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "initContainers": [{"name": "setup-container", "securityContext": copy.deepcopy(restricted)}],
            "containers": [
                {
                    "name": "rabbitmq",
                    "resources": copy.deepcopy(cluster["spec"].get("resources", {})),
                    "securityContext": copy.deepcopy(restricted),
                }
            ],
        },
    }
    override = cluster["spec"].get("override", {}).get("statefulSet", {}).get("spec", {}).get("template", {})
    return merged(template, override)


MONGODB_SERVICE_ACCOUNT = "mongodb-kubernetes-appdb"  # construct/mongodbstatefulset.go, made by the Helm chart


def mongodb_community_pod(resource: dict) -> dict:
    """The pod template MongoDB Controllers for Kubernetes make of a MongoDBCommunity
    (mongodb/mongodb-kubernetes 67a92993, mongodb-community-operator/controllers/construct/
    mongodbstatefulset.go; pkg/kube/podtemplatespec DefaultPodSecurityContext, pkg/kube/container
    DefaultSecurityContext, pkg/kube/resourcerequirements Defaults): labels app=<name>-svc, the
    default security contexts (the operator run without MANAGED_SECURITY_CONTEXT), every
    container's default resources, then spec.statefulSet's template."""
    name = resource["metadata"]["name"]
    defaults = {"limits": {"cpu": "1.0", "memory": "500M"}, "requests": {"cpu": "0.5", "memory": "400M"}}

    def container(name: str) -> dict:
        return {
            "name": name,
            "securityContext": copy.deepcopy(_RESTRICTED_CONTAINER),
            "resources": copy.deepcopy(defaults),
        }

    template = {
        "metadata": {"labels": {"app": f"{name}-svc"}},
        "spec": {
            "serviceAccountName": MONGODB_SERVICE_ACCOUNT,
            "securityContext": {
                "runAsUser": 2000,
                "runAsNonRoot": True,
                "fsGroup": 2000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "initContainers": [container("mongod-posthook"), container("mongodb-agent-readinessprobe")],
            "containers": [container("mongodb-agent"), container("mongod")],
        },
    }
    override = resource["spec"].get("statefulSet", {}).get("spec", {}).get("template", {})
    return merged(template, override)


def pod_templates(objects: list[dict]) -> dict[str, dict]:
    """Every pod template of a rendered overlay, by what makes it: its workloads' and the pods
    the operators make of its custom resources."""
    templates = {
        f"{o['kind']}/{o['metadata']['name']}": (
            o["spec"]["jobTemplate"]["spec"]["template"] if o["kind"] == "CronJob" else o["spec"]["template"]
        )
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob")
    }
    for o in of_kind(objects, "RabbitmqCluster"):
        templates[f"RabbitmqCluster/{o['metadata']['name']}"] = rabbitmq_cluster_pod(o)
    for o in of_kind(objects, "MongoDBCommunity"):
        templates[f"MongoDBCommunity/{o['metadata']['name']}"] = mongodb_community_pod(o)
    return templates


# -- Pod Security admission ------------------------------------------------------------
_RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def restricted_violations(template: dict) -> list[str]:
    """What the `restricted` Pod Security Standard refuses in a pod template
    (https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted, v1.34),
    for the fields leitai's pods and the operators' set."""
    spec = template["spec"]
    pod = spec.get("securityContext") or {}
    problems = []
    if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
        problems.append("host namespaces")
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= _RESTRICTED_VOLUMES:
            problems.append(f"volume {volume['name']}: {sorted(kinds)}")
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        sc = c.get("securityContext") or {}
        where = f"container {c['name']}"
        if sc.get("privileged"):
            problems.append(f"{where}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation must be false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"{where}: capabilities must drop ALL")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{where}: adds capabilities")
        if not sc.get("runAsNonRoot", pod.get("runAsNonRoot")):
            problems.append(f"{where}: runAsNonRoot")
        if sc.get("runAsUser", pod.get("runAsUser")) == 0:
            problems.append(f"{where}: runs as root")
        seccomp = (sc.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{where}: seccompProfile RuntimeDefault or Localhost")
    return problems


# -- MongoDB's authorization: what a user's roles let it do ------------------------------
# the privilege actions of the built-in roles leitai grants, on a database's non-system
# collections (https://www.mongodb.com/docs/manual/reference/built-in-roles/, 7.0)
_READ = {"changeStream", "collStats", "dbHash", "dbStats", "find", "killCursors", "listCollections", "listIndexes"}
ROLE_ACTIONS = {
    "read": _READ,
    "readWrite": _READ
    | {
        "convertToCapped",
        "createCollection",
        "createIndex",
        "dropCollection",
        "dropIndex",
        "insert",
        "remove",
        "renameCollectionSameDB",
        "update",
    },
    "dbAdmin": {
        "bypassDocumentValidation",
        "collMod",
        "collStats",
        "compact",
        "convertToCapped",
        "createCollection",
        "createIndex",
        "dbStats",
        "dropCollection",
        "dropDatabase",
        "dropIndex",
        "enableProfiler",
        "listCollections",
        "listIndexes",
        "reIndex",
        "renameCollectionSameDB",
        "validate",
    },
}
# the actions a command needs (https://www.mongodb.com/docs/manual/reference/privilege-actions/);
# None: a command any authenticated user may run (handshake, sessions, transactions' ends)
COMMAND_ACTIONS: dict[str, set[str] | None] = {
    "find": {"find"},
    "getMore": {"find"},
    "aggregate": {"find"},
    "count": {"find"},
    "distinct": {"find"},
    "insert": {"insert"},
    "update": {"update"},
    "delete": {"remove"},
    "findAndModify": {"find", "update"},
    "createIndexes": {"createIndex"},
    "create": {"createCollection"},
    "drop": {"dropCollection"},
    "dropDatabase": {"dropDatabase"},
    "listCollections": {"listCollections"},
    "listIndexes": {"listIndexes"},
    "killCursors": {"killCursors"},
    "dbStats": {"dbStats"},
    "collStats": {"collStats"},
    "listDatabases": None,  # answers with the databases the user holds privileges on
    "hello": None,
    "isMaster": None,
    "ismaster": None,
    "ping": None,
    "endSessions": None,
    "commitTransaction": None,
    "abortTransaction": None,
}


def refused_commands(roles: list[dict], commands: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Of ``commands`` (database, command name), those the ``roles`` would not let run; a
    command missing from COMMAND_ACTIONS is refused too, so that the table is kept up."""
    granted: dict[str, set[str]] = {}
    for role in roles:
        granted.setdefault(role["db"], set()).update(ROLE_ACTIONS[role["name"]])
    refused = set()
    for database, command in commands:
        if command not in COMMAND_ACTIONS:
            refused.add((database, command))
        elif COMMAND_ACTIONS[command] is not None and not COMMAND_ACTIONS[command] <= granted.get(database, set()):
            refused.add((database, command))
    return refused


# -- NetworkPolicy ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """One end of a connection: a pod (its namespace and labels), or with no namespace
    something outside the cluster's pods (the API server's address, a mail relay)."""

    name: str
    namespace: str | None
    labels: dict = field(default_factory=dict, hash=False)


def _peer_matches(peer: dict, policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        return other.namespace is None
    if other.namespace is None:
        return False
    namespaces = peer.get("namespaceSelector")
    if namespaces is None:
        in_namespace = other.namespace == policy_namespace
    else:  # every namespace carries kubernetes.io/metadata.name (set by the API server)
        in_namespace = selects(namespaces.get("matchLabels") or {}, {"kubernetes.io/metadata.name": other.namespace})
    pods = peer.get("podSelector")
    return in_namespace and (pods is None or selects(pods.get("matchLabels") or {}, other.labels))


def allowed(policies: list[dict], source: Endpoint, target: Endpoint, port: int) -> bool:
    """Whether a TCP connection from ``source`` to ``target``'s ``port`` gets through
    (https://kubernetes.io/docs/concepts/services-networking/network-policies/): a pod selected
    by any policy of a direction is isolated in it, and then only what some rule of those
    policies allows passes; a connection needs its source's egress and its target's ingress.
    Only leitai's namespace has policies here."""

    def side(direction: str, subject: Endpoint, other: Endpoint) -> bool:
        if subject.namespace is None:
            return True
        applying = [
            p
            for p in policies
            if p["metadata"].get("namespace") == subject.namespace
            and direction in p["spec"].get("policyTypes", ["Ingress"])
            and selects(p["spec"]["podSelector"].get("matchLabels") or {}, subject.labels)
        ]
        if not applying:
            return True
        peers = "to" if direction == "Egress" else "from"
        return any(
            (not rule.get("ports") or any(p.get("port") == port for p in rule["ports"]))
            and (not rule.get(peers) or any(_peer_matches(x, p["metadata"]["namespace"], other) for x in rule[peers]))
            for p in applying
            for rule in p["spec"].get(direction.lower(), [])
        )

    return side("Egress", source, target) and side("Ingress", target, source)


# -- scheduling and eviction ---------------------------------------------------------------------
def term_selects(term: dict, pod_labels: dict, other: dict) -> bool:
    """Whether a spread constraint's or an affinity term's selector, as written for a pod with
    ``pod_labels``, selects a pod with ``other`` labels: its labelSelector and, for each key of
    matchLabelKeys, the pod's own value of it (https://kubernetes.io/docs/concepts/scheduling-eviction/
    topology-spread-constraints/, .../assign-pod-node/#matchlabelkeys)."""
    wanted = dict((term.get("labelSelector") or {}).get("matchLabels") or {})
    wanted.update({key: pod_labels.get(key) for key in term.get("matchLabelKeys", [])})
    return selects(wanted, other)


def eviction_allowed(budget: dict, ready: list[bool], evict_ready: bool) -> bool:
    """Whether the eviction API lets a drain evict one pod (a ready one or not) of the ``ready``
    pods a PodDisruptionBudget with maxUnavailable covers
    (https://kubernetes.io/docs/tasks/run-application/configure-pdb/#unhealthy-pod-eviction-policy):
    an unready pod always under AlwaysAllow; otherwise (IfHealthyBudget, the default) only while
    the healthy pods reach the desired count, and a ready one only if one more may go."""
    desired = len(ready) - budget["spec"]["maxUnavailable"]
    healthy = sum(ready)
    if not evict_ready:
        return budget["spec"].get("unhealthyPodEvictionPolicy") == "AlwaysAllow" or healthy >= desired
    return healthy - 1 >= desired
