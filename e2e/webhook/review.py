#!/usr/bin/python3
"""review.py: writes an AdmissionReview for the webhook e2e tests and bench.

usage: review.py [--api v1|v1beta1] [--op CREATE] [--uid U] [--ns NS]
                 [--kind Pod] [--label k=v]... [--annotation k=v]...
                 [--host-network] [--env N] [--no-object] [--name NAME]
The pod looks like one a Deployment's ReplicaSet creates: generateName,
ownerReferences, pod-template-hash label, defaulted spec fields (~2 KB).
"""
import argparse
import json
import sys


def pod(args):
    env = [{"name": "ENV_%d" % i, "value": "value-%d" % i}
           for i in range(args.env)]
    labels = {"app": "web", "pod-template-hash": "7d4b9c7f8d"}
    for kv in args.label:
        k, v = kv.split("=", 1)
        labels[k] = v
    annotations = {"kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00Z"}
    for kv in args.annotation:
        k, v = kv.split("=", 1)
        annotations[k] = v
    meta = {"generateName": "web-7d4b9c7f8d-", "namespace": args.ns,
            "creationTimestamp": None, "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{"apiVersion": "apps/v1",
                                 "kind": "ReplicaSet",
                                 "name": "web-7d4b9c7f8d",
                                 "uid": "0f3b2d7e-4b8c-4c51-9a3e-2f6d1c0b9a11",
                                 "controller": True,
                                 "blockOwnerDeletion": True}]}
    if args.name:
        meta["name"] = args.name
        del meta["generateName"]
    spec = {
        "volumes": [{"name": "kube-api-access-abcde", "projected": {
            "sources": [{"serviceAccountToken": {"expirationSeconds": 3607,
                                                 "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt",
                                       "items": [{"key": "ca.crt",
                                                  "path": "ca.crt"}]}}],
            "defaultMode": 420}}],
        "containers": [{
            "name": "web", "image": "nginx:1.25",
            "ports": [{"name": "http", "containerPort": 8080,
                       "protocol": "TCP"}],
            "env": env,
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080,
                                           "scheme": "HTTP"},
                               "timeoutSeconds": 1, "periodSeconds": 10,
                               "successThreshold": 1, "failureThreshold": 3},
            "volumeMounts": [{"name": "kube-api-access-abcde",
                              "readOnly": True,
                              "mountPath":
                              "/var/run/secrets/kubernetes.io/serviceaccount"}],
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent"}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst", "serviceAccountName": "web",
        "serviceAccount": "web", "securityContext": {},
        "schedulerName": "default-scheduler",
        "tolerations": [{"key": "node.kubernetes.io/not-ready",
                         "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 300}],
        "priority": 0, "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority"}
    if args.host_network:
        spec["hostNetwork"] = True
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta,
            "spec": spec, "status": {}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", default="v1")
    ap.add_argument("--op", default="CREATE")
    ap.add_argument("--uid", default="d595ee3c-3c3a-4f53-a5d5-0f2f6b1b7b7a")
    ap.add_argument("--ns", default="team-a")
    ap.add_argument("--pod-ns", default=None,
                    help="metadata.namespace ('' removes it)")
    ap.add_argument("--kind", default="Pod")
    ap.add_argument("--label", action="append", default=[])
    ap.add_argument("--annotation", action="append", default=[])
    ap.add_argument("--host-network", action="store_true")
    ap.add_argument("--env", type=int, default=2)
    ap.add_argument("--no-object", action="store_true")
    ap.add_argument("--name", default="")
    args = ap.parse_args()
    obj = pod(args)
    if args.pod_ns is not None:
        if args.pod_ns == "":
            del obj["metadata"]["namespace"]
        else:
            obj["metadata"]["namespace"] = args.pod_ns
    resource = "pods" if args.kind == "Pod" else args.kind.lower() + "s"
    group = "" if args.kind == "Pod" else "apps"
    if args.kind != "Pod":
        obj = {"kind": args.kind, "apiVersion": "apps/v1",
               "metadata": {"name": "web", "namespace": args.ns},
               "spec": {"template": obj}}
    req = {"uid": args.uid,
           "kind": {"group": group, "version": "v1", "kind": args.kind},
           "resource": {"group": group, "version": "v1",
                        "resource": resource},
           "requestKind": {"group": group, "version": "v1",
                           "kind": args.kind},
           "requestResource": {"group": group, "version": "v1",
                               "resource": resource},
           "namespace": args.ns, "operation": args.op,
           "userInfo": {"username": "system:serviceaccount:kube-system:"
                        "replicaset-controller",
                        "groups": ["system:serviceaccounts",
                                   "system:authenticated"]},
           "object": None if args.no_object else obj,
           "oldObject": obj if args.op == "UPDATE" else None,
           "dryRun": False,
           "options": {"kind": "CreateOptions",
                       "apiVersion": "meta.k8s.io/v1"}}
    if args.name:
        req["name"] = args.name
    review = {"apiVersion": "admission.k8s.io/" + args.api,
              "kind": "AdmissionReview", "request": req}
    json.dump(review, sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main()
