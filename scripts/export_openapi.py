"""Print the API's OpenAPI document (JSON) without a database or WeChat keys.

    python scripts/export_openapi.py > openapi.json

The mini-program's contract test (miniprogram/test/contract.test.js) runs this, so the document
it checks is always the one the code on this branch would serve at /api/v1/openapi.json."""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from config import TestingConfig  # noqa: E402


def openapi_document() -> dict:
    config = TestingConfig().as_dict()
    config["WECHAT_KEYS_DIR"] = None  # no dev keys generated: the document needs none
    app = create_app(config)
    with app.test_client() as client:
        response = client.get(f"{app.config['OPENAPI_URL_PREFIX']}/{app.config['OPENAPI_JSON_PATH']}")
        if response.status_code != 200:
            raise SystemExit(f"openapi.json answered {response.status_code}")
        return response.get_json()


if __name__ == "__main__":
    json.dump(openapi_document(), sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    sys.stdout.write("\n")
