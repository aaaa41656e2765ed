"""Admission control on the student API: sign-in, start and GET /attempt in turn; 503 busy with a place, at once."""
import pytest

from tests.assessment.factories import correct_response, open_all_types_session
from tests.assessment.test_admission import held


@pytest.fixture
def gated(app_config, clean_db):  # type: ignore[no-untyped-def]
    from webapp import create_app

    application = create_app({**app_config, "ADMISSION_LIMIT": 1, "ADMISSION_WAIT": 0.2, "ADMISSION_QUEUE": 2})
    yield application
    application.extensions["ctcensus"].engine.dispose()


def _auth(token):  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {token}"}


def test_a_full_gate_answers_busy_with_place_and_retry_after_and_saves_still_go_through(gated, db) -> None:  # type: ignore[no-untyped-def]
    _, attempts, items = open_all_types_session(db, n_students=2)
    client = gated.test_client()
    token = client.post("/api/v1/login", json={"ticket": attempts[0].ticket}).get_json()["token"]
    assert client.post("/api/v1/attempt/start", headers=_auth(token)).status_code == 200
    release, holder = held(gated.extensions["ctcensus"].admission)
    try:
        for method, url, kw in (("POST", "/api/v1/login", {"json": {"ticket": attempts[1].ticket}}),
                                ("GET", "/api/v1/attempt", {"headers": _auth(token)}),
                                ("POST", "/api/v1/attempt/start", {"headers": _auth(token)})):
            response = client.open(url, method=method, **kw)
            body = response.get_json()
            assert response.status_code == 503, (url, body)
            assert body["error"] == "busy" and body["position"] >= 1 and body["retry_after"] >= 1
            assert response.headers["Retry-After"] == str(body["retry_after"])
            assert str(body["position"]) in body["message"]
        # answers and heartbeats are never queued: the students already testing keep saving
        item = items["single_choice"]
        saved = client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token),
                           json={"seq": 1, "response": correct_response(item)})
        assert saved.status_code == 200
        assert client.post("/api/v1/attempt/heartbeat", headers=_auth(token), json={}).status_code == 200
    finally:
        release.set()
        holder.join(5)
    assert client.post("/api/v1/login", json={"ticket": attempts[1].ticket}).status_code == 200


def test_the_gate_is_off_by_default_and_configured_by_its_limit(app_config, clean_db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from webapp import create_app

    monkeypatch.setenv("CTCENSUS_THREADS", "8")
    monkeypatch.setenv("CTCENSUS_ADMISSION_LIMIT", "4")
    apps = [create_app({**app_config, "TESTING": False}), create_app({**app_config, "ADMISSION_LIMIT": 0})]
    monkeypatch.delenv("CTCENSUS_ADMISSION_LIMIT")
    apps.append(create_app({**app_config, "TESTING": False}))
    try:
        gate = apps[0].extensions["ctcensus"].admission
        assert (gate.limit, gate.max_queue, gate.max_wait) == (4, 2, 2.0)
        assert apps[1].extensions["ctcensus"].admission is None
        assert apps[2].extensions["ctcensus"].admission is None  # off unless configured
    finally:
        for application in apps:
            application.extensions["ctcensus"].engine.dispose()


def test_the_player_retries_a_busy_answer_after_retry_after_with_jitter(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """api.js: a 503 busy is waited out (Retry-After, up to 1.5x) and tried again; onBusy shows the place."""
    import json
    import shutil
    import subprocess
    from pathlib import Path

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    api = Path(__file__).resolve().parents[2] / "webapp" / "static" / "player" / "api.js"
    script = tmp_path / "busy.mjs"
    script.write_text(f"""
import {{ Api, busyDelayMs }} from {json.dumps(api.as_uri())};
const answers = [
  {{ status: 503, body: {{ error: 'busy', message: 'wait', position: 7, retry_after: 2 }}, retry: '2' }},
  {{ status: 503, body: {{ error: 'busy', message: 'wait', position: 3, retry_after: 1 }}, retry: '1' }},
  {{ status: 200, body: {{ token: 't' }} }},
];
globalThis.fetch = async () => {{
  const a = answers.shift();
  return {{ ok: a.status < 400, status: a.status, headers: {{ get: () => a.retry || null }}, json: async () => a.body }};
}};
const seen = [], slept = [];
const api = new Api('/api/v1', {{ lang: 'en', getToken: () => null, onBusy: (p, s) => seen.push([p, s]),
                                  sleep: async (ms) => {{ slept.push(ms); }} }});
const body = await api.login('ABCD-EFGH');
console.log(JSON.stringify({{ body, seen, slept, low: busyDelayMs(2, () => 0), high: busyDelayMs(2, () => 1) }}));
""", encoding="utf-8")
    out = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=60, check=True).stdout
    result = json.loads(out)
    assert result["body"] == {"token": "t"}
    assert result["seen"] == [[7, 2], [3, 1], [None, None]]
    assert 2000 <= result["slept"][0] <= 3000 and 1000 <= result["slept"][1] <= 1500
    assert (result["low"], result["high"]) == (2000, 3000)
