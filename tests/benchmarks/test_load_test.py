"""The load generator's own parts (benchmarks/load_test.py), without servers.

Its run against the real system is tests/e2e/test_load.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import load_test
from tests.utils.processes import free_port


def _script(seed: int, channel: str = "socketio"):
    return SCRIPTS.conversation(random.Random(seed), channel)


SCRIPTS = load_test.Scripts("s3cret", 0.5)


def test_an_unreachable_system_fails_fast_with_exit_code_2(capsys):
    nobody = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    code = load_test.main(["--rasa-url", nobody, "--bridge-url", nobody, "--duration", "30"])
    assert code == 2 and time.monotonic() - started < 10
    assert "does not answer" in capsys.readouterr().err


def test_knowledge_questions_come_from_the_demo_knowledge_base_in_both_languages():
    questions = load_test.load_kb_questions()
    assert ("退货运费谁出？", "returns-shipping-fee") in questions["zh"]
    assert ("How long does delivery take?", "delivery-time") in questions["en"]
    assert all(not load_test.HAN.search(q) for q, _ in questions["en"])


def test_scripts_mix_every_kind_in_both_languages_and_sign_like_the_widget():
    kinds, languages, handoffs, signed = set(), set(), 0, 0
    for seed in range(200):
        language, steps = _script(seed)
        languages.add(language)
        for step in steps:
            if isinstance(step, load_test.HandoffStep):
                handoffs += 1
                assert step is steps[-1]
                continue
            kinds.add(step.kind)
            if step.metadata:
                signed += 1
                user, expires = step.metadata["user_id"], step.metadata["user_expires"]
                message = f"{user}:{expires}".encode()
                digest = hmac.new(b"s3cret", message, hashlib.sha256).hexdigest()
                assert step.metadata["user_hash"] == digest
                # valid for about an hour: more than a run, less than the widget's maximum
                assert 3000 < expires - time.time() <= load_test.SIGNED_FOR_S
    assert kinds == {"kb", "order", "smalltalk"} and languages == {"zh", "en"}
    assert 60 < handoffs < 140  # about half of 200 with share 0.5
    assert signed
    rest = [_script(seed, "rest") for seed in range(100)]
    assert not any(isinstance(s, load_test.HandoffStep) for _, steps in rest for s in steps)
    # REST customers are anonymous: the REST channel believes no signed user.
    assert not any(getattr(s, "metadata", None) for _, steps in rest for s in steps)


def test_anonymous_customers_expect_a_refusal_signed_ones_their_order():
    scripts = SCRIPTS
    signed = scripts.customers[0]
    assert signed.user_id == "demo-user-1" and "DS01010003" in signed.orders
    rng = random.Random(3)
    (anonymous,) = scripts._order(rng, "zh", None, None)
    refusal = [{"text": "为保护您的隐私，查询订单和会员信息需要先验证身份"}]
    assert anonymous.check(refusal, "rest") is None
    leaked = [{"text": f"验证身份 订单 {anonymous.text[4:14]}"}]
    assert anonymous.check(leaked, "rest") is not None
    turns = scripts._order(random.Random(1), "en", signed, {"user_id": "demo-user-1"})
    number = turns[-1].text if len(turns) == 2 else turns[0].text.split()[-1].rstrip("?")
    answer = [{"text": f"Order {number} (placed 2026-11-27, 1299.00 CNY): shipped."}]
    assert turns[-1].check(answer, "socketio") is None
    assert turns[-1].check([{"text": "please get verified first"}], "socketio") is not None


def test_the_site_secret_is_the_first_line_of_its_file(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "site_identity_secret").write_text("current\nprevious\n")
    assert load_test._secret(tmp_path, "site_identity_secret") == "current"  # signs
    assert load_test._secret(tmp_path, "missing") is None


def test_rate_limits_that_would_refuse_the_load_are_named():
    settings = load_test.Settings("http://r", "http://b", customers=60, ramp_up=10)
    defaults = load_test.rate_limit_problems("", settings)
    assert [p.split("=")[0] for p in defaults] == ["ip", "session"]
    assert load_test.rate_limit_problems(load_test.UNLIMITED, settings) == []
    assert load_test.rate_limit_problems("ip=0/60,session=0/60", settings) == []  # 0: none
    # one person's pace fits the default per conversation; a flood would not
    assert load_test.rate_limit_problems("ip=0/60,conversation=30/60,session=0/60", settings) == []
    assert load_test.rate_limit_problems("ip=0/60,conversation=5/60,session=0/60", settings) == [
        "conversation=5/60 (this load may need 20)"
    ]
    small = load_test.Settings("http://r", "http://b", customers=2, ramp_up=10, think=(5, 10))
    assert load_test.rate_limit_problems("", small) == []


def test_the_rate_limits_of_a_running_rasa_are_read_from_its_environment(tmp_path):
    port = free_port()
    fake = tmp_path / "rasa_server.py"
    fake.write_text("import time\ntime.sleep(30)\n")
    env = {**os.environ, "CSA_RASA_PORT": str(port), "CSA_RATE_LIMITS": "ip=5/60"}
    child = subprocess.Popen([sys.executable, str(fake)], env=env)
    try:
        settings = load_test.Settings(f"http://127.0.0.1:{port}", "http://b")
        deadline = time.monotonic() + 10
        while not load_test.rasa_rate_limits(settings) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert load_test.rasa_rate_limits(settings) == ["ip=5/60"]
        try:
            load_test.check_rate_limits(settings)
        except load_test.SetupError as err:
            assert "CSA_RATE_LIMITS=" + load_test.UNLIMITED in str(err)
        else:
            raise AssertionError("the limits were not refused")
        load_test.check_rate_limits(dataclasses.replace(settings, allow_rate_limits=True))
    finally:
        child.kill()
        child.wait()


def test_the_scale_out_profiles_private_listener_is_the_port_plus_30():
    assert load_test.private_url("http://127.0.0.1:5005") == "http://127.0.0.1:5035"
    assert load_test.private_url("http://localhost:8000/") == "http://localhost:8030/"


def test_a_knowledge_turn_over_socketio_needs_the_kb_decision():
    answer = [{"text": "x", "metadata": {"kb_decision": "answer"}}]
    assert load_test.kb_answer(answer, "socketio") is None
    assert load_test.kb_answer([{"text": "x"}], "socketio") == "no knowledge-base answer"
    assert load_test.kb_answer([{"text": "x"}], "rest") is None


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert load_test.percentile(values, 50) == 50
    assert load_test.percentile(values, 95) == 95
    assert load_test.percentile(values, 99) == 99
    assert load_test.percentile([7.0], 99) == 7 and load_test.percentile([], 50) is None


def test_the_process_listening_on_a_port_is_found():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert load_test.pid_listening_on(sock.getsockname()[1]) == os.getpid()
    assert load_test.pid_listening_on(free_port()) is None


def test_urls_served_by_one_process_are_one_row_named_after_it():
    command = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    servers = {"rasa": os.getpid(), "actions": 1, "bridge": os.getpid()}
    expected = {f"{command} (rasa, bridge)": os.getpid(), "actions": 1}
    assert load_test.label_shared(servers) == expected


SHARING_TREE = r"""
import mmap, os, sys, time
shared = mmap.mmap(-1, 64 * 2**20)  # anonymous, shared with the child after fork
def touch():
    for offset in range(0, len(shared), mmap.PAGESIZE):
        shared[offset] = 1
touch()
child = os.fork()
if child == 0:
    touch()
    print("ready", flush=True)
    time.sleep(60)
    os._exit(0)
time.sleep(60)
"""


def test_pages_a_parent_shares_with_its_child_count_once():
    # PostgreSQL's backends map its shared buffers: RSS summed over them counts the buffers
    # once per backend.
    parent = subprocess.Popen([sys.executable, "-c", SHARING_TREE], stdout=subprocess.PIPE)
    tree = [parent.pid]
    try:
        assert parent.stdout.readline().strip() == b"ready"
        children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
        tree.append(int(children[0]))
        naive = sum(load_test._statm(pid)[0] for pid in tree) / 2**20
        counted = load_test.tree_rss_bytes(tree) / 2**20
        assert naive - counted > 0.9 * 64  # the child's view of the 64 MiB is left out
        assert counted > 64  # the parent's is there
    finally:
        for pid in reversed(tree):
            os.kill(pid, signal.SIGKILL)
        parent.wait()
        parent.stdout.close()


def test_the_sampler_measures_cpu_and_memory_of_a_busy_process():
    rec = load_test.Recorder()
    sampler = load_test.ResourceSampler({}, rec)
    sampler.sample()
    deadline = time.perf_counter() + 0.6  # samples are at least 0.5 s apart
    while time.perf_counter() < deadline:
        pass
    sampler.sample()
    summary = sampler.summary((0, 0), (0, 10))
    assert summary["load generator"]["cpu_mean"] > 20
    assert summary["load generator"]["rss_mean_mb"] > 10


def test_rss_growth_compares_the_start_of_the_load_with_its_end():
    flat = [(t, 500.0 + (3 if t % 2 else -3)) for t in range(100)]
    growth = load_test.rss_growth(flat)
    assert growth["rss_start_mb"] == growth["rss_end_mb"] == 500.0
    assert growth["rss_growth_pct"] == 0.0
    leaking = [(t, 500.0 + t) for t in range(100)]  # 1 MB a second
    growth = load_test.rss_growth(leaking)
    assert 19 < growth["rss_start_mb"] - 500 < 21 and 89 < growth["rss_end_mb"] - 500 < 91
    assert 13 < growth["rss_growth_pct"] < 14
    assert load_test.rss_growth(leaking[:5])["rss_growth_pct"] is None
