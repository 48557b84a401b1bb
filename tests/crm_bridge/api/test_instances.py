"""Two bridge instances on one PostgreSQL CRM with consoles relayed through Redis (issue 9).

A console connected to instance A gets, exactly once, what REST calls on instance B and the
ingestion (whichever instance leads it) cause, with the same visibility rules as on one
instance; concurrent changes of one handoff from both instances give one winner and clear 409s.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack

from sqlalchemy import select

from crm_bridge.api.routes.console import POLICY_VIOLATION
from crm_bridge.cli import main as cli_main
from crm_bridge.models import Agent, AgentRole, Escalation, EscalationStatus
from tests.crm_bridge.instances import (
    Console,
    closed_within,
    of_type,
    two_bridges,
    write_broker_rows,
)
from tests.utils import rasa_events as ev
from tests.utils.factories import PASSWORD


def _online(bridges, agent, client) -> None:
    response = client.put(
        "/api/v1/agents/me/availability", json={"availability": "online"}, headers=agent["headers"]
    )
    assert response.status_code == 200, response.text


def test_consoles_on_a_get_what_happens_on_b_once_with_visibility(tmp_path):
    with (
        two_bridges(tmp_path, EVENTS_SOURCE="sql", HANDOFF_AUTO_ASSIGN=False) as bridges,
        ExitStack() as stack,
    ):
        a, b = bridges.a, bridges.b
        wang, amy = bridges.agent(languages=["zh"]), bridges.agent(languages=["zh"])
        boss = bridges.agent(AgentRole.SUPERVISOR)
        wang_a = Console(a, wang["token"], stack)  # wang's console is on A
        boss_a = Console(a, boss["token"], stack)  # so is the supervisor's
        amy_b = Console(b, amy["token"], stack)  # amy's is on B, where her actions run
        for console in (wang_a, boss_a, amy_b):
            console.until(lambda got: bool(of_type(got, "queue")))

        # Presence on B reaches the agent's own console on A (and nobody else's).
        _online(bridges, wang, b)
        got = wang_a.until(lambda got: bool(of_type(got, "agent")))
        assert len(of_type(got, "agent", id=wang["id"], availability="online")) == 1
        assert of_type(got, "queue")  # presence changes refresh the queue too
        assert not of_type(boss_a.drain(), "agent")
        _online(bridges, amy, b)
        assert len(of_type(amy_b.until(lambda got: bool(of_type(got, "agent"))), "agent")) == 1
        assert not of_type(wang_a.drain(), "agent")

        # A handoff opened on B shows in the queue of the consoles on A.
        first = bridges.open(b, "socketio:inst-s1")
        got = wang_a.until(
            lambda got: any(
                i["id"] == first["id"] for q in of_type(got, "queue") for i in q["data"]
            )
        )

        # A customer message, ingested by whichever instance leads: everyone sees a waiting one.
        write_broker_rows(
            bridges.events_db,
            [
                ev.user(
                    "socketio:inst-s1", "我还在等，快点", language="zh", input_channel="socketio"
                )
            ],
        )
        for console in (wang_a, boss_a, amy_b):
            got = console.until(lambda got: bool(of_type(got, "message")))
            lines = of_type(got, "message", handoff_id=first["id"], text="我还在等，快点")
            assert len(lines) == 1, got
        leaders = {c.app.state.ingestion.role for c in (a, b)}
        assert leaders == {"leader", "standby"}

        # Amy accepts it on B: the supervisor on A sees it once, wang (another agent) not at all.
        assert (
            b.post(f"/api/v1/handoff/{first['id']}/accept", headers=amy["headers"]).status_code
            == 200
        )
        got = boss_a.until(lambda got: bool(of_type(got, "handoff")))
        assert len(of_type(got, "handoff", id=first["id"], status="assigned")) == 1
        assert len(of_type(amy_b.until(lambda g: bool(of_type(g, "handoff"))), "handoff")) == 1
        assert not of_type(wang_a.drain(), "handoff")

        # Amy's reply on B: the supervisor on A once, wang never.
        reply = b.post(
            f"/api/v1/handoff/{first['id']}/messages",
            json={"text": "您好，我是 Amy"},
            headers=amy["headers"],
        )
        assert reply.status_code == 201, reply.text
        got = boss_a.until(lambda got: bool(of_type(got, "message")))
        assert len(of_type(got, "message", handoff_id=first["id"], text="您好，我是 Amy")) == 1
        assert len(of_type(amy_b.until(lambda g: bool(of_type(g, "message"))), "message")) == 1
        assert not of_type(wang_a.drain(), "message")

        # Wang's own handoff, worked entirely on B, shows on his console on A once per step.
        second = bridges.open(a, "socketio:inst-s2")
        write_broker_rows(
            bridges.events_db,
            [ev.user("socketio:inst-s2", "hello?", language="en", input_channel="socketio")],
        )
        wang_a.until(lambda got: bool(of_type(got, "message", handoff_id=second["id"])))
        for path, body in (
            ("accept", None),
            ("messages", {"text": "Hi, Wang here"}),
            ("close", {"mode": "resolve", "resolution_code": "resolved"}),
        ):
            response = b.post(
                f"/api/v1/handoff/{second['id']}/{path}", json=body, headers=wang["headers"]
            )
            assert response.status_code in (200, 201), response.text
        got = wang_a.until(
            lambda got: bool(of_type(got, "handoff", id=second["id"], status="resolved"))
        )
        assert len(of_type(got, "handoff", id=second["id"], status="assigned")) == 1
        assert len(of_type(got, "handoff", id=second["id"], status="resolved")) == 1
        assert len(of_type(got, "message", handoff_id=second["id"], text="Hi, Wang here")) == 1
        got = boss_a.until(
            lambda got: bool(of_type(got, "handoff", id=second["id"], status="resolved"))
        )
        assert len(of_type(got, "handoff", id=second["id"])) == 2
        # Amy (B) saw it only while it waited: its customer message, nothing after the accept.
        got = amy_b.drain(settle=1.0)
        assert not of_type(got, "handoff", id=second["id"])
        assert not of_type(got, "message", text="Hi, Wang here")

        # Amy goes offline on B: her handoff is back in the queue, which wang on A sees once.
        offline = b.put(
            "/api/v1/agents/me/availability",
            json={"availability": "offline"},
            headers=amy["headers"],
        )
        assert offline.status_code == 200
        got = wang_a.until(lambda got: bool(of_type(got, "handoff", id=first["id"])))
        assert len(of_type(got, "handoff", id=first["id"], status="open")) == 1
        assert {c.app.state.relay.connected for c in (a, b)} == {True}
        health = a.get("/health").json()
        assert health["console_fanout"] == "redis"
        assert health["ingestion"] in ("leader", "standby")


def _race(calls) -> list[int]:
    """Run the calls at the same moment in threads; their status codes, in order."""
    barrier = threading.Barrier(len(calls))
    codes: list[int] = [0] * len(calls)

    def run(i, call) -> None:
        barrier.wait()
        codes[i] = call().status_code

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return codes


def test_two_agents_accepting_one_handoff_on_two_instances_one_wins(tmp_path):
    with two_bridges(tmp_path, HANDOFF_AUTO_ASSIGN=False) as bridges:
        a, b = bridges.a, bridges.b
        wang, amy = bridges.agent(), bridges.agent()
        _online(bridges, wang, a)
        for round_ in range(8):
            handoff = bridges.open(a, f"socketio:race-accept-{round_}")
            url = f"/api/v1/handoff/{handoff['id']}/accept"
            codes = _race(
                [
                    lambda url=url: a.post(url, headers=wang["headers"]),
                    lambda url=url: b.post(url, headers=amy["headers"]),
                ]
            )
            assert sorted(codes) == [200, 409], codes
            winner = wang if codes[0] == 200 else amy
            loser = b if codes[0] == 200 else a
            again = loser.post(url, headers=(amy if winner is wang else wang)["headers"])
            assert again.status_code == 409
            assert again.json()["detail"] == "another agent has taken this conversation"
            with a.app.state.session_factory() as session:
                row = session.get(Escalation, handoff["id"])
                assert row.agent_id == winner["id"] and row.status == EscalationStatus.ASSIGNED
        # One announcement per accepted handoff, never two.
        joined = [c for c in bridges.rasa.calls if c[0] == "say"]
        assert len(joined) == 8


def test_transfer_and_close_at_once_on_two_instances(tmp_path):
    with two_bridges(tmp_path, HANDOFF_AUTO_ASSIGN=False) as bridges:
        a, b = bridges.a, bridges.b
        bridges.rasa.delay = 0.2  # Rasa answers slowly: closing holds the row meanwhile
        wang, amy = bridges.agent(), bridges.agent()
        boss = bridges.agent(AgentRole.SUPERVISOR)
        for agent in (wang, amy):
            _online(bridges, agent, a)
        closed = 0
        for round_ in range(4):
            handoff = bridges.open(a, f"socketio:race-close-{round_}")
            base = f"/api/v1/handoff/{handoff['id']}"
            assert a.post(f"{base}/accept", headers=wang["headers"]).status_code == 200
            codes = _race(
                [
                    lambda base=base: a.post(
                        f"{base}/close",
                        json={"mode": "resolve", "resolution_code": "resolved"},
                        headers=wang["headers"],
                    ),
                    lambda base=base: b.post(
                        f"{base}/transfer", json={"agent_id": amy["id"]}, headers=boss["headers"]
                    ),
                ]
            )
            assert sorted(codes) == [200, 409], codes
            with a.app.state.session_factory() as session:
                row = session.get(Escalation, handoff["id"])
                if codes[0] == 200:  # closed: the transfer must not have reopened it
                    assert row.status == EscalationStatus.RESOLVED and row.agent_id == wang["id"]
                else:
                    assert row.status == EscalationStatus.ASSIGNED and row.agent_id == amy["id"]
            closed += codes[0] == 200
        # Rasa was told once per close that won, never for one that lost.
        assert len([c for c in bridges.rasa.calls if c[0] == "resume"]) == closed


def test_auto_assignment_on_two_instances_respects_capacity(tmp_path):
    with two_bridges(tmp_path) as bridges:
        a, b = bridges.a, bridges.b
        wang = bridges.agent(languages=["zh"])
        with a.app.state.session_factory() as session:
            session.get(Agent, wang["id"]).max_concurrent = 2
            session.commit()
        _online(bridges, wang, a)
        calls = [
            lambda i=i: (a if i % 2 else b).post(
                "/api/v1/handoff",
                json={
                    "sender_id": f"socketio:race-cap-{i}",
                    "reason": "asked_for_human",
                    "language": "zh",
                    "channel": "socketio",
                    "transcript": [],
                },
                headers=bridges.bot(f"socketio:race-cap-{i}"),
            )
            for i in range(6)
        ]
        assert _race(calls) == [201] * 6
        with a.app.state.session_factory() as session:
            rows = session.scalars(select(Escalation).where(Escalation.live.is_(True))).all()
            assigned = [r for r in rows if r.status == EscalationStatus.ASSIGNED]
            assert len(rows) == 6 and len(assigned) == 2
            assert {r.agent_id for r in assigned} == {wang["id"]}


def test_one_sender_opening_twice_at_once_gets_one_handoff(tmp_path):
    with two_bridges(tmp_path, HANDOFF_AUTO_ASSIGN=False) as bridges:
        a, b = bridges.a, bridges.b
        _online(bridges, bridges.agent(), a)
        body = {
            "sender_id": "socketio:race-open",
            "reason": "asked_for_human",
            "language": "zh",
            "channel": "socketio",
            "transcript": [],
        }
        responses: list = [None, None]

        def call(i, client) -> None:
            headers = bridges.bot("socketio:race-open")
            responses[i] = client.post("/api/v1/handoff", json=body, headers=headers)

        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(target=lambda i=i, c=c: (barrier.wait(), call(i, c)))
            for i, c in enumerate((a, b))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert [r.status_code for r in responses] == [201, 201]
        assert responses[0].json()["id"] == responses[1].json()["id"]


def test_ending_a_session_on_b_closes_its_console_on_a_through_the_relay(tmp_path):
    # A's periodic session check is 30 s away: a close within seconds came through Redis.
    with two_bridges(tmp_path) as bridges, ExitStack() as stack:
        a, b = bridges.a, bridges.b
        wang = bridges.agent()
        second = b.post(
            "/api/v1/login/access-token", data={"username": wang["login"], "password": PASSWORD}
        ).json()["access_token"]
        admin = bridges.agent(AgentRole.ADMIN)
        first_on_a = Console(a, wang["token"], stack)
        second_on_a = Console(a, second, stack)
        for console in (first_on_a, second_on_a):
            console.until(lambda got: bool(of_type(got, "queue")))
        response = b.post("/api/v1/login/logout", headers=wang["headers"])
        assert response.status_code == 204
        assert closed_within(first_on_a.socket) == (POLICY_VIOLATION, "logged out")
        second_on_a.drain()  # the other session's console is still open: it answers a ping
        response = b.post(f"/api/v1/agents/{wang['id']}/deactivate", headers=admin["headers"])
        assert response.status_code == 200, response.text
        assert closed_within(second_on_a.socket) == (POLICY_VIOLATION, "account disabled")


def test_the_cli_ends_sessions_on_running_instances_through_redis(tmp_path, monkeypatch, capsys):
    with two_bridges(tmp_path) as bridges, ExitStack() as stack:
        settings = bridges.a.app.state.settings
        monkeypatch.setenv("CSA_VAR_DIR", str(settings.VAR_DIR))
        monkeypatch.setenv("CSA_BRIDGE_DATABASE_URL", bridges.url)
        monkeypatch.setenv("CSA_BRIDGE_FANOUT_URL", settings.FANOUT_URL)
        monkeypatch.setenv("CSA_BRIDGE_FANOUT_CHANNEL", settings.FANOUT_CHANNEL)
        amy = bridges.agent()
        on_a = Console(bridges.a, amy["token"], stack)
        on_a.until(lambda got: bool(of_type(got, "queue")))
        assert cli_main(["agents", "logout", amy["login"]]) == 0
        assert "1 session(s) ended" in capsys.readouterr().out
        assert closed_within(on_a.socket) == (POLICY_VIOLATION, "logged out")
