"""What a cluster would do with the rendered manifests, where no validator can tell: small
models of the kubelet, cluster DNS, NetworkPolicy, Pod Security admission and the operators
that turn leitai's custom resources into pods. Each is written from the upstream source or
documentation it cites, and covers only what leitai's manifests use."""

from __future__ import annotations

from tests.support.manifests import data_of, named, pod_spec


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
