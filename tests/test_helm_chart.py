"""The Helm chart, checked without helm: schema, values paths both ways, YAML, dashboard, image.

No helm binary can be installed here, so these checks read the templates as text. What
they cannot see (Go template semantics, real rendering, a cluster's admission) is listed
in helm/trawler/README.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from service import config as trawler_config
from service.api import PUBLIC
from service.cli import _parser
from service.state.keys import DEFAULT_PREFIX, QUEUE_GROUP

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "trawler"
TEMPLATES = CHART / "templates"
ACTION = re.compile(r"{{-?(.*?)-?}}", re.S)
COMMENT = re.compile(r"{{-?\s*/\*.*?\*/\s*-?}}", re.S)
VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return loaded


def template_files() -> list[Path]:
    return sorted(TEMPLATES.glob("*.yaml")) + sorted(TEMPLATES.glob("*.tpl"))


def leaf_paths(node: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Paths to every scalar, list or empty map in values.yaml (lists are leaves)."""
    if isinstance(node, dict) and node:
        out: set[tuple[str, ...]] = set()
        for key, child in node.items():
            out |= leaf_paths(child, (*prefix, key))
        return out
    return {prefix}


def used_paths() -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for path in template_files():
        for match in VALUES_REF.finditer(path.read_text()):
            found.add(tuple(match.group(1).lstrip(".").split(".")))
    return found


def lookup(tree: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            raise KeyError(".".join(path))
        tree = tree[key]
    return tree


def test_values_validate_against_schema() -> None:
    jsonschema.Draft7Validator.check_schema(schema())
    jsonschema.validate(values(), schema())


@pytest.mark.parametrize(("path", "bad"), [
    (("worker", "replicaz"), 2),  # a typo is an error, not a silently ignored key
    (("securityContext", "readOnlyRootFilesystem"), False),
    (("podSecurityContext", "runAsNonRoot"), False),
    (("config", "remediation", "mode"), "yolo"),
    (("redis", "url"), "http://redis:6379"),
    (("secrets", "env"), [{"name": "lower-case", "key": "k"}]),
])
def test_schema_rejects_bad_values(path: tuple[str, ...], bad: Any) -> None:
    data = values()
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bad
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema())


def test_schema_describes_every_value() -> None:
    def walk(node: Any, sch: dict[str, Any], where: str) -> None:
        assert "type" in sch or "enum" in sch or "const" in sch, f"{where}: no type"
        if isinstance(node, dict) and "properties" in sch:
            for key, child in node.items():
                assert key in sch["properties"], f"{where}.{key}: not in values.schema.json"
                walk(child, sch["properties"][key], f"{where}.{key}")
        elif isinstance(node, list) and "items" in sch:
            for i, child in enumerate(node):
                walk(child, sch["items"], f"{where}[{i}]")

    walk(values(), schema(), "values")


def test_every_values_path_in_templates_exists_in_values_yaml() -> None:
    data = values()
    missing = []
    for path in sorted(used_paths()):
        try:
            lookup(data, path)
        except KeyError:
            missing.append(".".join(path))
    assert not missing, f"templates use values that values.yaml lacks: {missing}"


def test_every_value_is_used_by_a_template() -> None:
    used = used_paths()
    dead = [".".join(leaf) for leaf in sorted(leaf_paths(values()))
            if not any(leaf[:len(u)] == u for u in used)]
    assert not dead, f"values no template reads: {dead}"


def strip_template(text: str) -> str:
    """Drop lines that are only template actions; turn inline actions into a scalar."""
    out = []
    for line in COMMENT.sub("", text).splitlines():
        if not line.strip():
            continue
        rest = ACTION.sub("", line).strip()
        if not rest:
            continue  # control flow, include/toYaml with nindent, comments
        out.append(ACTION.sub("X", line))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.yaml")), ids=lambda p: p.name)
def test_template_yaml_outside_actions_is_well_formed(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(strip_template(path.read_text())) if d is not None]
    assert docs, f"{path.name}: nothing left after stripping template actions"
    for doc in docs:
        assert isinstance(doc, dict) and {"apiVersion", "kind", "metadata"} <= doc.keys(), \
            f"{path.name}: not a Kubernetes object: {doc}"


def test_dashboard_configmap_carries_the_dashboard_file() -> None:
    text = (TEMPLATES / "dashboard-configmap.yaml").read_text()
    line = next(ln for ln in text.splitlines() if ".Files.Get" in ln)
    name = re.search(r'\.Files\.Get "([^"]+)"', line)
    assert name and name.group(1) == "dashboards/trawler.json"
    dashboard_file = CHART / name.group(1)
    assert not any(p.strip() and dashboard_file.relative_to(CHART).as_posix().startswith(
        p.strip().rstrip("/")) for p in (CHART / ".helmignore").read_text().splitlines()
        if not p.startswith("#")), ".helmignore drops the dashboard from the package"
    # Render the one line the way helm would (`| nindent 4` under `trawler.json: |-`).
    indent = int(re.search(r"nindent (\d+)", line).group(1))  # type: ignore[union-attr]
    body = "\n".join(" " * indent + ln for ln in dashboard_file.read_text().splitlines())
    # Inserted after stripping: helm does not evaluate file content, and Grafana's
    # legends ("{{rule}}") look like template actions.
    rendered = strip_template(text.replace(line, "@@BODY@@")).replace("@@BODY@@", body)
    doc = yaml.safe_load(rendered)
    assert json.loads(doc["data"]["trawler.json"]) == json.loads(dashboard_file.read_text())
    assert values()["dashboard"]["labels"] == {"grafana_dashboard": "1"}
    assert "toYaml .Values.dashboard.labels" in text


def test_dashboard_is_templated_on_namespace_and_pod() -> None:
    dash = json.loads((CHART / "dashboards" / "trawler.json").read_text())
    names = {v["name"] for v in dash["templating"]["list"]}
    assert {"namespace", "pod"} <= names
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert exprs
    for expr in exprs:
        for metric in re.findall(r"\b(trawler_[a-z_]+)\{([^}]*)\}", expr):
            assert 'namespace=~"$namespace"' in metric[1] and 'pod=~"$pod"' in metric[1], expr


def render_config(vals: dict[str, Any]) -> str:
    """The config.yaml block of the ConfigMap with its simple actions filled in."""
    text = (TEMPLATES / "configmap.yaml").read_text()
    block = text.split("config.yaml: |\n", 1)[1]

    def fill(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        ref = VALUES_REF.search(expr)
        assert ref, f"unexpected action in config.yaml: {expr}"
        value = lookup(vals, tuple(ref.group(1).lstrip(".").split(".")))
        return json.dumps(value)  # JSON is YAML, and toJson is what the template says

    return "\n".join(ln[4:] for ln in ACTION.sub(fill, block).splitlines())


def test_rendered_config_is_accepted_by_trawler(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(render_config(values()))
    env = {"TRAWLER_DATA": "/var/lib/trawler", "TRAWLER_LISTEN": "0.0.0.0:8080",
           "TRAWLER_RULES": "/git/current/rules", "TRAWLER_STATE": "redis://r:6379/0"}
    settings = trawler_config.load(path, env)
    assert settings.shutdown_grace_s == values()["shutdownGraceSeconds"]
    assert settings.collectors[0].password_env == "TRAWLER_JOURNAL_PASSWORD"
    assert settings.remediation.mode == values()["config"]["remediation"]["mode"]
    # Every *_env a config names is mapped from the Secret, so none is left empty.
    named = {c.password_env for c in settings.collectors if c.password_env}
    if settings.mailboxes.master_password_env:
        named.add(settings.mailboxes.master_password_env)
    mapped = {e["name"] for e in values()["secrets"]["env"]}
    assert named <= mapped, named - mapped


def test_no_secret_values_in_config_or_values() -> None:
    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                if re.search(r"password|token|secret", key, re.I) and not re.search(
                        r"(_env|_file|existingSecret|Key|authSecret|PullSecrets|secrets)$", key):
                    raise AssertionError(f"{where}.{key} looks like a secret value")
                walk(child, f"{where}.{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{where}[{i}]")

    walk(values(), "values")
    for path in template_files():
        assert "kind: Secret" not in path.read_text(), f"{path.name} defines a Secret"


def dockerfile() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        word, _, rest = line.partition(" ")
        if word in {"ENTRYPOINT", "USER", "EXPOSE", "CMD"}:
            out[word] = rest.strip()  # the last stage wins, as in docker
        if line.startswith("COPY rules "):
            out["RULES"] = line.split()[-1]
    return out


def test_dockerfile_matches_chart() -> None:
    docker = dockerfile()
    assert json.loads(docker["ENTRYPOINT"]) == ["trawler"]
    assert json.loads(docker["CMD"])[0] == "run"
    uid = int(docker["USER"].split(":")[0])
    assert uid == values()["podSecurityContext"]["runAsUser"]
    assert docker["EXPOSE"] == "8080"
    assert docker["RULES"] == "/rules"
    helpers = (TEMPLATES / "_helpers.tpl").read_text()
    assert 'value: "0.0.0.0:8080"' in helpers and "/rules\n" in helpers
    for name in ("deployment.yaml", "collector.yaml"):
        text = (TEMPLATES / name).read_text()
        assert "command:" not in text, f"{name} must keep the image's entrypoint"
        assert "containerPort: 8080" in text
        args = json.loads(re.search(r"args: (\[.*\])", text).group(1))  # type: ignore[union-attr]
        assert args[0] == "run"
        _parser().parse_args(args)  # every flag the chart passes exists in this build
        assert "add .Values.shutdownGraceSeconds" in text  # grace covers the drain
        for probe in re.findall(r"path: (/\w+)", helpers):
            assert probe in PUBLIC
    assert "--no-collectors" in (TEMPLATES / "deployment.yaml").read_text()
    assert "type: Recreate" in (TEMPLATES / "collector.yaml").read_text()


def test_keda_watches_the_real_stream_and_group() -> None:
    keda = values()["keda"]
    assert keda["stream"] == f"{DEFAULT_PREFIX}queue"
    assert keda["consumerGroup"] == QUEUE_GROUP


def test_pdb_only_with_more_than_one_replica() -> None:
    text = (TEMPLATES / "pdb.yaml").read_text()
    assert text.startswith("{{- if or (gt (int .Values.worker.replicas) 1)")
