"""Bad input of every kind: a clear error naming what is wrong, and nothing changed.

Runs once on SQLite and once on PostgreSQL (one controller per backend).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from processes import AgentProcess, ControllerProcess, wait_for
from sql import query

from protos.deskside.v1 import SERVER_NAME, agent_pb2, agent_pb2_grpc


def test_reused_unknown_and_expired_tokens_are_refused(
    controller: ControllerProcess, database: str, tmp_path: Path
) -> None:
    token = controller.enrollment_token()
    first = AgentProcess(tmp_path / "first")
    first.enroll(controller, token)
    count = query(database, "SELECT COUNT(*) FROM endpoints")[0][0]

    def attempt(name: str, token_value: str) -> str:
        agent = AgentProcess(tmp_path / name)
        enroll_port = controller.info["enroll"].rsplit(":", 1)[1]
        result = agent.command(
            "enroll", "--controller", controller.info["grpc"],
            "--enroll-address", f"127.0.0.1:{enroll_port}",
            "--token", token_value, "--ca-hash", token["ca_hash"],
        )  # fmt: skip
        assert result.returncode == 1
        assert not (tmp_path / name / "agent.toml").exists()
        return result.stderr

    assert "token_used" in attempt("reused", token["token"])
    assert "token_unknown" in attempt("unknown", "dse_nonsense")
    expired = controller.enrollment_token()
    query(
        database,
        "UPDATE enrollment_tokens SET expires_at = $1 WHERE used_at IS NULL",
        _past(database),
    )
    assert "token_expired" in attempt("expired", expired["token"])
    assert query(database, "SELECT COUNT(*) FROM endpoints")[0][0] == count


def _past(database: str) -> Any:
    import datetime as dt

    moment = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.000000") if database.startswith("sqlite") else moment


def test_wrong_ca_hash_refuses_before_the_token_is_spent(
    controller: ControllerProcess, database: str, tmp_path: Path
) -> None:
    token = controller.enrollment_token()
    agent = AgentProcess(tmp_path / "pinned")
    enroll_port = controller.info["enroll"].rsplit(":", 1)[1]
    for wrong, expected in (
        ("sha256:" + "0" * 64, "does not match the pinned hash"),
        ("md5:abc", "expected sha256:"),
    ):
        result = agent.command(
            "enroll", "--controller", controller.info["grpc"],
            "--enroll-address", f"127.0.0.1:{enroll_port}",
            "--token", token["token"], "--ca-hash", wrong,
        )  # fmt: skip
        assert result.returncode == 1
        assert "--ca-hash" in result.stderr and expected in result.stderr
    rows = query(database, "SELECT used_at FROM enrollment_tokens WHERE used_at IS NULL")
    assert rows, "the token was spent although the CA did not match"
    agent.enroll(controller, token)  # still good after the refusals


def test_gateway_refuses_a_client_without_certificate(controller: ControllerProcess) -> None:
    ca_pem = (controller.data_dir / "pki" / "ca.pem").read_bytes()
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    options = [("grpc.ssl_target_name_override", SERVER_NAME)]
    with grpc.secure_channel(controller.info["grpc"], credentials, options=options) as channel:
        stub = agent_pb2_grpc.AgentGatewayStub(channel)
        hello = agent_pb2.AgentMessage(hello=agent_pb2.Hello(agent_version="x"))
        with pytest.raises(grpc.RpcError) as refused:
            list(stub.Connect(iter([hello]), timeout=10))
    assert refused.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED)


def test_revoked_certificate_is_refused(controller: ControllerProcess, tmp_path: Path) -> None:
    agent = AgentProcess(tmp_path / "revokee")
    endpoint_id = agent.enroll(controller, controller.enrollment_token())
    agent.start()
    try:
        wait_for(lambda: controller.endpoint(endpoint_id)["online"], 30, "online")
        with controller.client() as client:
            revoked = client.post(f"/endpoints/{endpoint_id}/revoke")
        assert revoked.status_code == 200 and revoked.json()["revoked"] is True
        wait_for(
            lambda: not controller.endpoint(endpoint_id)["online"],
            10,
            "offline once revoked",
        )
        wait_for(
            lambda: "refused this agent" in agent.log() and "revoked" in agent.log(),
            20,
            "agent told why",
        )
        time.sleep(2)  # it keeps trying with backoff and keeps being refused
        assert not controller.endpoint(endpoint_id)["online"]
    finally:
        agent.stop()


def test_bad_api_input_names_the_field_and_changes_nothing(
    controller: ControllerProcess, database: str
) -> None:
    tokens_before = query(database, "SELECT COUNT(*) FROM enrollment_tokens")[0][0]
    with controller.client() as client:
        bad_tag = client.post("/enrollment-tokens", json={"tags": ["ok", "no spaces allowed"]})
        assert bad_tag.status_code == 422
        assert bad_tag.json()["detail"][0]["loc"][-1] == "tags[1]"
        no_site = client.post("/enrollment-tokens", json={"site_id": 999999})
        assert no_site.status_code == 422 and "site_id" in no_site.text
        short = client.post("/enrollment-tokens", json={"ttl_s": 5})
        assert short.status_code == 422 and "ttl_s" in short.text
        missing = client.get("/endpoints/not-an-endpoint")
        assert missing.status_code == 404
        assert client.get("/endpoints", params={"limit": 0}).status_code == 422
    assert query(database, "SELECT COUNT(*) FROM enrollment_tokens")[0][0] == tokens_before


def test_bad_settings_and_taken_ports_stop_the_controller_with_the_setting_named(
    controller: ControllerProcess, tmp_path: Path
) -> None:
    import subprocess

    from processes import BIN

    def serve(**settings: str) -> subprocess.CompletedProcess[str]:
        env = {**controller.env, "DESKSIDE_DATA_DIR": str(tmp_path / "data"), **settings}
        return subprocess.run(
            [str(BIN / "deskside-controller"), "serve"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    cases = [
        ({"DESKSIDE_HTTP_LISTEN": "nowhere"}, "DESKSIDE_HTTP_LISTEN: expected HOST:PORT"),
        ({"DESKSIDE_HEARTBEAT_INTERVAL_S": "-1"}, "DESKSIDE_HEARTBEAT_INTERVAL_S"),
        ({"DESKSIDE_DATABASE_URL": "oracle://db"}, "DESKSIDE_DATABASE_URL: unsupported database"),
        ({"DESKSIDE_BOOTSTRAP_TOKEN": "guessable"}, "DESKSIDE_BOOTSTRAP_TOKEN"),
        (
            {"DESKSIDE_HTTP_LISTEN": controller.info["http"]},
            "DESKSIDE_HTTP_LISTEN: cannot listen on",
        ),
    ]
    for settings, message in cases:
        result = serve(**settings)
        assert result.returncode == 2, (settings, result.stderr)
        assert message in result.stderr
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "data").exists(), f"{settings} changed the data dir"
    taken_grpc = serve(
        DESKSIDE_HTTP_LISTEN="127.0.0.1:0", DESKSIDE_GRPC_LISTEN=controller.info["grpc"]
    )
    assert taken_grpc.returncode == 2
    assert "DESKSIDE_GRPC_LISTEN: cannot listen on" in taken_grpc.stderr
