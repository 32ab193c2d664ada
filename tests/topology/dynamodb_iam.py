"""DynamoDB as IAM lets each function reach it: a proxy in front of DynamoDB Local that answers a
request its caller's role does not allow as DynamoDB does (400, `AccessDeniedException`), and
forwards the rest.

The caller is told by its access key id (every function of the deployment signs with one of its
own, tests/topology/deployment.access_key_of). What each request needs is what IAM checks for it
(DynamoDB's "Actions, resources and condition keys"): the operation's own action on the table
(`table/<name>`), or on the index for a Query or Scan given an IndexName (`table/<name>/index/<index>`);
a batch needs its batch action on each table it names; a transaction is authorised per item
(TransactWriteItems: PutItem, UpdateItem, DeleteItem, ConditionCheckItem; TransactGetItems: GetItem).
An access key the proxy does not know (the test itself, the tables' creation) is let through."""
from __future__ import annotations

import fnmatch
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.dynamodb_proxy import DynamoDBProxy

TARGET = "DynamoDB_20120810."
# The items of a transaction, by their key in TransactItems, and the action each needs.
TRANSACT_WRITE = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


@dataclass(frozen=True)
class Grant:
    """One Allow statement: its actions and resources as IAM patterns (`*`, `?`)."""
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def allows(self, action: str, resource: str) -> bool:
        return any(fnmatch.fnmatchcase(action, a) for a in self.actions) and \
            any(fnmatch.fnmatchcase(resource, r) for r in self.resources)


@dataclass(frozen=True)
class Denial:
    access_key: str
    action: str
    resource: str


def needed(operation: str, body: dict[str, Any], arn_of: Callable[[str], str]) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs IAM checks for one request."""
    if operation == "TransactWriteItems":
        return [(f"dynamodb:{TRANSACT_WRITE[kind]}", arn_of(item[kind]["TableName"]))
                for item in body.get("TransactItems", []) for kind in item]
    if operation == "TransactGetItems":
        return [("dynamodb:GetItem", arn_of(item["Get"]["TableName"])) for item in body.get("TransactItems", [])]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", arn_of(table)) for table in body.get("RequestItems", {})]
    table = body.get("TableName")
    if table is None:
        return [(f"dynamodb:{operation}", "*")]
    resource = arn_of(str(table))
    if operation in ("Query", "Scan") and body.get("IndexName"):
        resource += f"/index/{body['IndexName']}"
    return [(f"dynamodb:{operation}", resource)]


@dataclass
class IamDynamoDB:
    upstream: str
    # Access key id -> the role's Allow statements; a key not here is not checked.
    grants: dict[str, list[Grant]]
    # Table name -> its ARN (as DynamoDB Local made it).
    table_arns: dict[str, str]
    denials: list[Denial] = field(default_factory=list)
    # Access key id -> how many of its requests were checked and let through.
    checked: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    _proxy: DynamoDBProxy | None = None

    def start(self) -> IamDynamoDB:
        self._proxy = DynamoDBProxy(self.upstream, self.refusal)
        self.url = self._proxy.url
        return self

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()

    def _arn(self, table: str) -> str:
        # A table that does not exist has an ARN all the same: IAM checks before DynamoDB looks.
        return self.table_arns.get(table) or f"arn:aws:dynamodb:ddblocal:000000000000:table/{table}"

    def refusal(self, access_key: str, target: str, raw: bytes) -> tuple[int, dict[str, Any]] | None:
        """DynamoDB's answer to a request the caller may not make; None to forward it."""
        grants = self.grants.get(access_key)
        if grants is None or not target.startswith(TARGET):
            return None
        operation = target.removeprefix(TARGET)
        for action, resource in needed(operation, json.loads(raw or b"{}"), self._arn):
            if not any(g.allows(action, resource) for g in grants):
                with self.lock:
                    self.denials.append(Denial(access_key, action, resource))
                return 400, {"__type": "com.amazon.coral.service#AccessDeniedException",
                             "Message": f"User: {access_key} is not authorized to perform: {action} on resource: "
                                        f"{resource} because no identity-based policy allows the {action} action"}
        with self.lock:
            self.checked[access_key] += 1
        return None
