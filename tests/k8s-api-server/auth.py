# Authentication and authorization for the test API server: a static bearer-token table
# (the --tokens file) and RBAC-like rules, used both for incoming requests and for
# TokenReview / SubjectAccessReview answers.

import json

DEFAULT_TOKENS = {
    "admin-token": {"username": "admin", "uid": "admin-uid", "groups": ["system:masters", "system:authenticated"],
                    "admin": True},
}


class User:
    def __init__(self, token, spec):
        self.token = token
        self.username = spec.get("username") or ""
        self.uid = spec.get("uid") or ""
        self.groups = list(spec.get("groups") or [])
        self.admin = bool(spec.get("admin"))
        self.rules = list(spec.get("rules") or [])

    def info(self):
        d = {"username": self.username}
        if self.uid:
            d["uid"] = self.uid
        if self.groups:
            d["groups"] = list(self.groups)
        return d


class TokenTable:
    def __init__(self, tokens):
        self.by_token = {}
        for tok, spec in tokens.items():
            if not isinstance(spec, dict) or not spec.get("username"):
                raise ValueError("token %r: an object with a username is required" % tok)
            self.by_token[tok] = User(tok, spec)
        if not self.by_token:
            raise ValueError("the token table is empty")

    @classmethod
    def load(cls, path):
        if not path:
            return cls(DEFAULT_TOKENS)
        with open(path) as f:
            data = json.load(f)
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), dict):
            raise ValueError('%s: expected {"tokens": {...}}' % path)
        return cls(data["tokens"])

    def lookup(self, token):
        return self.by_token.get(token)

    def by_username(self, username):
        for u in self.by_token.values():
            if u.username == username:
                return u
        return None

    def admin_token(self):
        for tok, u in self.by_token.items():
            if u.admin:
                return tok
        return next(iter(self.by_token))


def _match(patterns, value):
    return "*" in patterns or value in patterns


def _resource_match(patterns, resource, subresource):
    combined = resource + "/" + subresource if subresource else resource
    for p in patterns:
        if p == "*" or p == combined:
            return True
        if subresource and (p == "*/" + subresource or p == resource + "/*"):
            return True
    return False


def rule_allows(rule, attrs):
    verbs = rule.get("verbs") or []
    if not _match(verbs, attrs["verb"]):
        return False
    if not attrs.get("resource_request", True):
        urls = rule.get("nonResourceURLs") or []
        path = attrs.get("path", "")
        return any(u == "*" or u == path or (u.endswith("*") and path.startswith(u[:-1])) for u in urls)
    if "nonResourceURLs" in rule and "resources" not in rule:
        return False
    if not _match(rule.get("apiGroups") or [], attrs.get("group", "")):
        return False
    if not _resource_match(rule.get("resources") or [], attrs.get("resource", ""), attrs.get("subresource", "")):
        return False
    names = rule.get("resourceNames")
    if names and attrs.get("name", "") not in names:
        return False
    nss = rule.get("namespaces")
    if nss is not None and "*" not in nss:
        ns = attrs.get("namespace", "")
        if not ns or ns not in nss:
            return False
    return True


def authorize(user, groups, attrs):
    """Returns (allowed, reason). `user` may be None (unknown user: only group grants)."""
    if user is not None and user.admin:
        return True, 'RBAC: allowed by ClusterRoleBinding "k8s-api-test-server-admin" of ClusterRole ' \
                     '"cluster-admin" to User "%s"' % user.username
    if "system:masters" in (groups or []):
        return True, 'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" ' \
                     'to Group "system:masters"'
    if user is not None:
        for i, rule in enumerate(user.rules):
            if rule_allows(rule, attrs):
                return True, 'RBAC: allowed by test-server rule %d of User "%s"' % (i, user.username)
    return False, ""


def forbidden_text(username, attrs):
    """responsewriters.forbiddenMessage."""
    if not attrs.get("resource_request", True):
        return 'User "%s" cannot %s path "%s"' % (username, attrs["verb"], attrs.get("path", ""))
    resource = attrs.get("resource", "")
    if attrs.get("subresource"):
        resource += "/" + attrs["subresource"]
    if attrs.get("namespace"):
        return 'User "%s" cannot %s resource "%s" in API group "%s" in the namespace "%s"' % (
            username, attrs["verb"], resource, attrs.get("group", ""), attrs["namespace"])
    return 'User "%s" cannot %s resource "%s" in API group "%s" at the cluster scope' % (
        username, attrs["verb"], resource, attrs.get("group", ""))
