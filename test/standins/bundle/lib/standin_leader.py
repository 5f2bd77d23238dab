# STAND-IN support code from kubeha's test tree (test/standins): NOT part of Kubernetes.
# client-go's leader election (k8s.io/client-go/tools/leaderelection, tryAcquireOrRenew) over a
# coordination.k8s.io/v1 Lease, as the kube-vip, kube-controller-manager and kube-scheduler stand-ins
# run it: a follower counts the lease duration from when IT saw the record change (not from the
# record's renewTime), takes an expired Lease with a PUT carrying the resourceVersion it read (a
# conflict loses the race), creates a missing one; the holder renews by PUT. release() is
# ReleaseOnCancel: an empty holder and a 1 s duration, so another instance takes over at once.
"""client-go leader election for the stand-ins (stdlib only)."""

import sys
import time

import standin_common as common

JITTER_FACTOR = 1.2  # client-go leaderelection.JitterFactor


def now_micro():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


class Elector:
    """client-go's LeaderElector over a Lease. `api.call(method, path, body)` returns (status, JSON)
    and raises OSError on transport failures; `new_leader(holder)` says who leads when it changes."""

    def __init__(self, api, namespace, name, identity, lease, tag, new_leader=None):
        self.api, self.ns, self.name, self.identity, self.lease, self.tag = api, namespace, name, identity, lease, tag
        self.new_leader = new_leader or (lambda h: common.say(tag, f"new leader elected: {h} (lock {self.lock()})"))
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        self.observed = None  # (spec, local monotonic time it was first seen)
        self.reported = None

    def lock(self):
        return f"{self.ns}/{self.name}"

    def try_acquire_or_renew(self):
        """True when this process holds the Lease after the call."""
        status, cur = self.api.call("GET", self.path)
        stamp = now_micro()
        if status == 404:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.ns},
                    "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease),
                             "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0}}
            status, out = self.api.call("POST", self.path.rsplit("/", 1)[0], body)
            if status not in (200, 201):
                self.error(status, out)
                return False
            self.observed = (out.get("spec") or body["spec"], time.monotonic())
            return True
        if status != 200:
            self.error(status, cur)
            return False
        spec = cur.get("spec") or {}
        if self.observed is None or self.observed[0] != spec:
            self.observed = (spec, time.monotonic())
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self.identity and holder != self.reported:
            self.new_leader(holder)
            self.reported = holder
        duration = spec.get("leaseDurationSeconds") or self.lease
        if holder and holder != self.identity and self.observed[1] + duration > time.monotonic():
            return False
        new = dict(spec, holderIdentity=self.identity, leaseDurationSeconds=int(self.lease), renewTime=stamp)
        if holder != self.identity:
            new["acquireTime"] = stamp
            new["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.ns,
                             "resourceVersion": cur["metadata"]["resourceVersion"]}, "spec": new}
        status, out = self.api.call("PUT", self.path, body)
        if status != 200:
            if status != 409:
                self.error(status, out)
            return False
        self.observed = (out.get("spec") or new, time.monotonic())
        return True

    def release(self):
        """ReleaseOnCancel: an empty holder and a 1 s duration, so another instance takes over at once."""
        status, cur = self.api.call("GET", self.path)
        if status != 200 or (cur.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        stamp = now_micro()
        spec = dict(cur["spec"], holderIdentity="", leaseDurationSeconds=1, renewTime=stamp, acquireTime=stamp)
        self.api.call("PUT", self.path, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                         "metadata": {"name": self.name, "namespace": self.ns,
                                                      "resourceVersion": cur["metadata"]["resourceVersion"]},
                                         "spec": spec})

    def attempt(self):
        try:
            return self.try_acquire_or_renew()
        except OSError as e:
            common.say(self.tag, f"error retrieving resource lock {self.lock()}: {e.__class__.__name__}: {e}", sys.stderr)
            return False

    def error(self, status, body):
        msg = body.get("message") if isinstance(body, dict) else body
        common.say(self.tag, f"error retrieving resource lock {self.lock()}: HTTP {status}: {msg}", sys.stderr)


