"""A small evaluator of Kubernetes NetworkPolicies, enough to ask "may A reach B on port P?".

Semantics (networking.k8s.io/v1): a pod selected by any policy of a direction is isolated in that
direction and allows only what the union of those policies' rules allow; a rule matches when one
of its peers matches (no peers: everyone) and one of its ports matches (no ports: every port).
Supported peers: podSelector, namespaceSelector (matchLabels and matchExpressions In/NotIn/
Exists), and ipBlock with `except`. Named ports are not used by our policies and not supported.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pod:
    labels: dict[str, str]
    namespace: str
    namespace_labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class External:
    address: str


Peer = Pod | External


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _peer_matches(peer_rule: dict[str, Any], peer: Peer, policy_namespace: str) -> bool:
    if "ipBlock" in peer_rule:
        if not isinstance(peer, External):
            return False
        address = ipaddress.ip_address(peer.address)
        block = peer_rule["ipBlock"]
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(address in ipaddress.ip_network(e) for e in block.get("except", []))
    if not isinstance(peer, Pod):
        return False
    if "namespaceSelector" in peer_rule:
        namespace_labels = {"kubernetes.io/metadata.name": peer.namespace, **peer.namespace_labels}
        if not selects(peer_rule["namespaceSelector"], namespace_labels):
            return False
    elif peer.namespace != policy_namespace:
        return False
    return selects(peer_rule.get("podSelector", {}), peer.labels)


def _rule_allows(rule: dict[str, Any], key: str, peer: Peer, port: int, namespace: str) -> bool:
    peers = rule.get(key)
    if peers and not any(_peer_matches(p, peer, namespace) for p in peers):
        return False
    ports = rule.get("ports")
    return not ports or any(
        p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports
    )


def _allows(
    policies: list[dict[str, Any]], direction: str, pod: Pod, peer: Peer, port: int
) -> bool:
    key = "from" if direction == "Ingress" else "to"
    rules_key = direction.lower()
    relevant = [
        p
        for p in policies
        if p["metadata"].get("namespace") == pod.namespace
        and direction in p["spec"].get("policyTypes", ["Ingress"])
        and selects(p["spec"]["podSelector"], pod.labels)
    ]
    if not relevant:
        return True
    return any(
        _rule_allows(rule, key, peer, port, pod.namespace)
        for policy in relevant
        for rule in policy["spec"].get(rules_key, [])
    )


def may_connect(policies: list[dict[str, Any]], source: Peer, target: Peer, port: int) -> bool:
    """Both the source's egress and the target's ingress allow a TCP connection to `port`."""
    egress = not isinstance(source, Pod) or _allows(policies, "Egress", source, target, port)
    ingress = not isinstance(target, Pod) or _allows(policies, "Ingress", target, source, port)
    return egress and ingress
