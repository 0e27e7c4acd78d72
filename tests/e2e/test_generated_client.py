"""A client generated from /openapi.json by openapi-python-client, as API users make one:
the document must generate without a warning, and a scenario through it must pass."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.utils.auth import TEST_TOKEN
from tests.utils.server import Server

pytestmark = pytest.mark.slow
PACKAGE = "generated_best_app_client"


@pytest.fixture
def generated(live_server: Server, tmp_path: Path) -> Iterator[dict[str, ModuleType]]:
    document = tmp_path / "openapi.json"
    document.write_bytes(httpx.get(f"{live_server.url}/openapi.json").content)
    bin_dir = str(Path(sys.executable).parent)  # its post-generation hooks run ruff
    result = subprocess.run(  # noqa: S603 - our own command line
        [
            os.path.join(bin_dir, "openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=os.environ | {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output.strip() == f"Generating {tmp_path / PACKAGE}", output  # nothing else: no warning
    sys.path.insert(0, str(tmp_path))
    try:
        names = [
            "client", "models", "api.users.post_create_user", "api.users.get_get_user",
            "api.users.patch_patch_user", "api.users.delete_delete_user", "api.cars.post_buy_car",
            "api.cars.get_get_car", "api.cars.post_sell_car", "api.cars.get_get_owners",
            "api.cars.patch_patch_car", "api.cars.delete_delete_car",
        ]  # fmt: skip
        yield {name: importlib.import_module(f"{PACKAGE}.{name}") for name in names}
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_a_scenario_through_the_generated_client(
    live_server: Server, generated: dict[str, ModuleType]
) -> None:
    api, models = generated, generated["models"]
    client: Any = generated["client"].AuthenticatedClient(
        base_url=live_server.url, token=TEST_TOKEN
    )
    seller, buyer = f"gs{uuid.uuid4().hex[:10]}", f"gb{uuid.uuid4().hex[:10]}"
    with client:
        for name in (seller, buyer):
            created = api["api.users.post_create_user"].sync_detailed(
                client=client, body=models.UserCreate(username=name)
            )
            assert created.status_code == 201
            assert created.parsed.username == name

        bought = api["api.cars.post_buy_car"].sync(
            seller, client=client, body=models.CarCreate(model="Golf")
        )
        assert isinstance(bought, models.CarOut)
        got = api["api.cars.get_get_car"].sync_detailed(bought.id, client=client)
        etag = got.headers["ETag"]
        assert got.parsed == bought
        unchanged = api["api.cars.get_get_car"].sync_detailed(
            bought.id, client=client, if_none_match=etag
        )
        assert (unchanged.status_code, unchanged.parsed, unchanged.content) == (304, None, b"")

        sold = api["api.cars.post_sell_car"].sync_detailed(
            bought.id, client=client, body=models.SaleCreate(buyer=buyer), if_match=etag
        )
        assert sold.status_code == 200
        owner = api["api.users.get_get_user"].sync(buyer, client=client)
        assert sold.parsed.owner == owner.id
        stale = api["api.cars.post_sell_car"].sync_detailed(
            bought.id, client=client, body=models.SaleCreate(buyer=seller), if_match=etag
        )
        assert stale.status_code == 412
        assert isinstance(stale.parsed, models.Problem)

        history = api["api.cars.get_get_owners"].sync(bought.id, client=client)
        assert isinstance(history, models.OwnershipPage)
        assert [(p.username, p.until is None) for p in history.items] == [
            (seller, False),
            (buyer, True),
        ]
        assert history.items[0].until == history.items[1].since

        patched = api["api.cars.patch_patch_car"].sync_detailed(
            bought.id,
            client=client,
            body=models.CarPatch(model="Polo"),
            if_match=sold.headers["ETag"],
        )
        assert (patched.status_code, patched.parsed.model) == (200, "Polo")
        role = api["api.users.patch_patch_user"].sync(
            seller, client=client, body=models.UserPatch(role=models.UserPatchRole("teacher"))
        )
        assert role.role.value == "teacher"

        gone = api["api.cars.delete_delete_car"].sync_detailed(
            bought.id, client=client, if_match=patched.headers["ETag"]
        )
        assert gone.status_code == 204
        for name in (seller, buyer):
            assert (
                api["api.users.delete_delete_user"].sync_detailed(name, client=client).status_code
                == 204
            )
        missing = api["api.users.get_get_user"].sync_detailed(seller, client=client)
        assert missing.status_code == 404
