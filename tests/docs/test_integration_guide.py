"""docs/integration.md never goes stale: its ``bash`` examples run, section by section, against a real stack (the
API in uvicorn, our Mosquitto, a real ingest process, PostgreSQL) with the variables its "Before you start" names;
the JSON Schemas it links are the ones the code generates."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.schemas import all_schemas, render
from ops_center.auth.users import create_user
from ops_center.db import connect
from tests.live.conftest import live_server, tag  # noqa: F401 - live_server is a fixture

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "integration.md"
PREAMBLE = "Before you start"


def sections() -> dict[str, list[str]]:
    """Section title → its ``bash`` blocks, in order."""
    out: dict[str, list[str]] = {}
    title = ""
    for part in re.split(r"^## ", GUIDE.read_text(encoding="utf-8"), flags=re.M)[1:]:
        title = part.splitlines()[0].strip()
        out[title] = re.findall(r"^```bash\n(.*?)^```", part, flags=re.M | re.S)
    return out


RUNNABLE = [t for t, blocks in sections().items() if blocks and t != PREAMBLE]


def test_the_guide_has_a_section_per_integrator() -> None:
    titles = list(sections())
    integrators = ("Device maker", "One-stop-shop system", "Petition system", "Document system", "Unit facts",
                   "Citizen app")
    assert set(titles) == {PREAMBLE, *integrators}
    assert set(RUNNABLE) == set(integrators)  # every integrator's section has examples that run


def test_linked_schemas_are_what_the_code_generates() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    linked = set(re.findall(r"\(schemas/([a-z0-9-]+\.schema\.json)\)", text))
    generated = all_schemas()
    assert linked and linked <= set(generated)
    for name, schema in generated.items():
        path = REPO / "docs" / "schemas" / name
        assert path.read_text(encoding="utf-8") == render(schema), (
            f"{path} is stale: run `ops-center schemas --out docs/schemas`")


@pytest.fixture(scope="module")
def ingest(stack, tmp_path_factory) -> Iterator[None]:  # type: ignore[no-untyped-def]
    from tests.pipeline.conftest import IngestProc, discard_session
    from tests.support.services import free_port

    s = stack.settings
    client_id, port = f"ingest-guide-{tag()}", free_port()
    proc = IngestProc({**stack.env, "OPS_INGEST_SHARE_GROUP": f"guide{tag()}", "OPS_INGEST_CLIENT_ID": client_id,
                       "OPS_INGEST_METRICS_PORT": str(port), "OPS_INGEST_FLUSH_MS": "50",
                       "OPS_INGEST_REGISTRY_REFRESH_S": "1"},
                      client_id, port, tmp_path_factory.mktemp("guide") / "ingest.log")
    proc.start()
    yield
    proc.terminate()
    discard_session(s.mqtt_host, s.mqtt_port, s.mqtt_username, s.mqtt_password.get_secret_value(), client_id)


@pytest.mark.parametrize("title", RUNNABLE)
def test_examples_run(title: str, live_server, ingest, stack, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    for tool in ("bash", "curl", "jq", "mosquitto_pub"):
        assert shutil.which(tool), f"{tool} missing: run scripts/test-deps.sh"
    user, password = f"admin-{tag()}", secrets.token_urlsafe(16)
    with connect(settings.database_url) as conn:
        create_user(conn, user, password, "admin")
        conn.commit()
    blocks = sections()
    script = "\n".join(["set -euo pipefail", *blocks[PREAMBLE], *blocks[title]])
    (tmp_path / "example.sh").write_text(script, encoding="utf-8")
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "OPS_API": live_server.url, "MQTT_HOST": settings.mqtt_host, "MQTT_PORT": str(settings.mqtt_port),
           "ADMIN_USER": user, "ADMIN_PASSWORD": password}
    run = subprocess.run(["bash", str(tmp_path / "example.sh")], env=env, capture_output=True, text=True,
                         timeout=240)
    assert run.returncode == 0, (f"{title}: the examples failed (exit {run.returncode})\n"
                                 f"stdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-3000:]}")
