"""The logic of the WeCom customer-service channel without servers: cursors, max age, menus."""

from __future__ import annotations

import asyncio
import json

from channels.platform_state import MemoryState
from channels.wecom_kf import (
    FileCursors,
    MenuIds,
    StateCursors,
    chunks,
    clip,
    cursor_file,
    incoming,
    too_old,
)

KF = "wkACCOUNT1"


def test_file_cursors_survive_a_restart_and_are_written_atomically(tmp_path):
    path = cursor_file(str(tmp_path), "ww/../corp")
    assert path is not None and path.parent == tmp_path / "channels"
    assert ".." not in path.name and "/" not in path.name

    async def run():
        first = FileCursors(path)
        assert await first.get(KF) == ""
        await first.put(KF, "cursor-1")
        await first.put("wkOTHER", "cursor-a")
        await first.put(KF, "cursor-2")
        restarted = FileCursors(path)  # a new Rasa process reads the file
        return await restarted.get(KF), await restarted.get("wkOTHER")

    assert asyncio.run(run()) == ("cursor-2", "cursor-a")
    assert json.loads(path.read_text()) == {KF: "cursor-2", "wkOTHER": "cursor-a"}
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left


def test_a_damaged_cursor_file_starts_over(tmp_path, caplog):
    path = tmp_path / "cursors.json"
    path.write_text("{not json")

    async def run():
        cursors = FileCursors(path)
        before = await cursors.get(KF)
        await cursors.put(KF, "fresh")
        return before, await FileCursors(path).get(KF)

    assert asyncio.run(run()) == ("", "fresh")
    assert "unreadable" in caplog.text


def test_no_var_dir_means_no_cursor_file():
    assert cursor_file("", "ww1") is None


def test_state_cursors_are_per_account():
    async def run():
        state = MemoryState()
        cursors, other = StateCursors(state, "wecom:ww1"), StateCursors(state, "wecom:ww2")
        await cursors.put(KF, "c1")
        return await cursors.get(KF), await other.get(KF), await cursors.get("wkNONE")

    assert asyncio.run(run()) == ("c1", "", "")


def test_max_age_filter():
    now = 1_700_000_000
    assert not too_old(now - 599, 600, now=now)
    assert too_old(now - 601, 600, now=now)
    assert too_old(str(now - 3 * 86_400), 600, now=now)  # days of replayed history
    assert not too_old(None, 600, now=now)  # no time given: answered rather than lost
    assert not too_old("garbage", 600, now=now)
    assert not too_old(now - 10**6, 0, now=now)  # 0: no limit


def test_menu_ids_map_short_ids_to_payloads_of_any_length():
    long_payload = '/ask_kb{"kb_entry":"' + "x" * 300 + '"}'

    async def run():
        menus = MenuIds(MemoryState(), "wecom:ww1")
        first = await menus.register("alice", ['/rate{"rating":"5"}', long_payload])
        second = await menus.register("alice", ["/deny"])
        return (
            menus,
            first,
            second,
            [
                await menus.payload("alice", first[1]),
                await menus.payload("alice", first[0]),  # an older menu still picks its own payload
                await menus.payload("alice", second[0]),
                await menus.payload("bob", first[0]),  # another customer's menu: nothing
                await menus.payload("alice", first[0][:-1] + "9"),  # no such item
                await menus.payload("alice", "garbage"),
                await menus.payload("alice", ""),
            ],
        )

    _, first, second, picked = asyncio.run(run())
    assert all(len(i.encode()) <= 128 for i in first + second)
    assert len(set(first + second)) == 3
    assert picked == [long_payload, '/rate{"rating":"5"}', "/deny", None, None, None, None]


def test_incoming_items_are_classified():
    def item(**fields):
        return {"msgid": "m1", "open_kfid": KF, "send_time": 1, **fields}

    customer = {"external_userid": "wmCUSTOMER", "origin": 3}
    text = incoming(item(**customer, msgtype="text", text={"content": " 你好 "}), KF)
    assert (text.kind, text.user_id, text.text, text.key) == ("text", "wmCUSTOMER", "你好", "m1")
    click = incoming(
        item(**customer, msgtype="text", text={"content": "查订单", "menu_id": "0a1b2c3d-1"}), KF
    )
    assert (click.kind, click.menu_id) == ("text", "0a1b2c3d-1")
    long = incoming(item(**customer, msgtype="text", text={"content": "长" * 5000}), KF)
    assert len(long.text) == 2000
    assert incoming(item(**customer, msgtype="image", image={}), KF).kind == "unsupported"
    assert incoming(item(**customer, msgtype="voice"), KF).kind == "unsupported"
    servicer = {"external_userid": "wmCUSTOMER", "origin": 5}
    assert incoming(item(**servicer, msgtype="text", text={"content": "hi"}), KF).kind == "ignore"
    event = {"event_type": "enter_session", "external_userid": "wmNEW", "welcome_code": "W"}
    greet = incoming({"origin": 4, "msgtype": "event", "event": event, "send_time": 5}, "wkX")
    assert (greet.kind, greet.user_id, greet.open_kfid, greet.welcome_code) == (
        "greet",
        "wmNEW",
        "wkX",
        "W",
    )
    assert greet.key == "wmNEW:5:event:enter_session"  # events may come without a msgid
    failed = {"event_type": "msg_send_fail", "external_userid": "wmNEW"}
    assert incoming(item(origin=4, msgtype="event", event=failed), KF).kind == "ignore"
    assert incoming(item(origin=3, msgtype="text", text={"content": "x"}), KF).kind == "ignore"
    assert incoming("garbage", KF).kind == "ignore"  # type: ignore[arg-type]


def test_texts_are_cut_by_utf8_bytes_on_character_boundaries():
    assert clip("退货运费", 7) == "退货"  # 3 bytes a character: never half of one
    assert clip("abc", 128) == "abc"
    text = "您好" * 700 + "end"  # 4203 bytes
    parts = chunks(text, 2048)
    assert "".join(parts) == text
    assert all(len(p.encode()) <= 2048 for p in parts) and len(parts) == 3
    assert chunks("", 2048) == []
