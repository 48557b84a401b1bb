"""What the custom actions say, in Chinese and English.

Texts that only actions send live here rather than in the domain's ``responses``: Rasa's
validator warns about every response no rule or story uses, and these are composed at run
time (ticket numbers, order status, points). Domain responses stay for what rules utter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

ZH = "zh"
EN = "en"

MESSAGES: dict[str, dict[str, str]] = {
    # knowledge base
    "kb_clarify": {
        ZH: "我不太确定您问的是哪一个，您是想了解：",
        EN: "I'm not quite sure which one you mean. Did you mean:",
    },
    "kb_none": {
        ZH: "抱歉，这个问题我答不上来。我能解答配送、退换货、发票、保修、支付、会员积分等问题，"
        "您可以换个说法，或者转人工客服。",
        EN: "Sorry, I don't know the answer to that. I can help with delivery, returns, "
        "invoices, warranty, payment and membership; try rephrasing, or ask for a human agent.",
    },
    "kb_offer_human": {
        ZH: "抱歉，我还是没能找到答案。需要为您转接人工客服吗？",
        EN: "Sorry, I still couldn't find an answer. Shall I connect you to a human agent?",
    },
    "kb_unavailable": {
        ZH: "抱歉，知识库暂时不可用，请稍后再试或转人工客服。",
        EN: "Sorry, the knowledge base is unavailable right now. Please try later or ask for "
        "a human.",
    },
    "kb_feedback_thanks_up": {
        ZH: "感谢您的反馈，很高兴能帮到您！",
        EN: "Thanks for the feedback, glad it helped!",
    },
    "kb_feedback_thanks_down": {
        ZH: "感谢反馈，我们会改进这个回答。需要的话可以转人工客服。",
        EN: "Thanks for telling us; we'll improve that answer. A human agent can help if you like.",
    },
    "kb_feedback_nothing": {
        ZH: "好的，收到。",
        EN: "Okay, noted.",
    },
    "button_handoff": {ZH: "转人工客服", EN: "Talk to a person"},
    "button_no_thanks": {ZH: "不用了", EN: "No, thanks"},
    # handoff
    "handoff_assigned": {
        ZH: "好的，已为您接通人工客服{agent}，请直接在这里说明您的问题（工单号 {ticket_id}）。",
        EN: "Sure, {agent} from our service team will take it from here; just write your "
        "question below (ticket {ticket_id}).",
    },
    "handoff_queued": {
        ZH: "好的，正在为您转接人工客服，您目前排在第 {position} 位，请稍候（工单号 {ticket_id}）。"
        "客服接入前您可以继续留言，客服会看到全部内容。",
        EN: "Sure, I'm connecting you to a human agent. You are number {position} in the queue "
        "(ticket {ticket_id}). Feel free to keep writing: the agent will see everything.",
    },
    "handoff_closed_hours": {
        ZH: "现在不是人工客服的工作时间（{hours}）。已为您创建工单（工单号 {ticket_id}），"
        "请在这里留言说明情况，客服上班后会第一时间跟进。",
        EN: "Our agents are not working right now (hours: {hours}). I've opened a ticket for "
        "you (ticket {ticket_id}): leave your message here and we'll follow up as soon as "
        "they're back.",
    },
    "handoff_no_agents": {
        ZH: "抱歉，目前没有空闲的人工客服。已为您创建工单（工单号 {ticket_id}），"
        "请在这里留言说明情况，客服会尽快联系您。",
        EN: "Sorry, no agent is available right now. I've opened a ticket for you "
        "(ticket {ticket_id}): leave your message here and an agent will get back to you soon.",
    },
    "handoff_message_left": {
        ZH: "已收到您的留言并记录到工单 {ticket_id}，客服会尽快跟进。",
        EN: "Got it: your message is on ticket {ticket_id} and an agent will follow up.",
    },
    "handoff_failed": {
        ZH: "抱歉，暂时无法转接人工客服，请稍后再试，或拨打客服热线 400-800-1234。",
        EN: "Sorry, I couldn't reach a human agent just now. Please try again shortly or call "
        "400-800-1234.",
    },
    "handoff_resolved": {
        ZH: "人工客服已结束本次服务，智能助手回来了。",
        EN: "The agent has left the chat; the assistant is back.",
    },
    "handoff_returned": {
        ZH: "人工客服已将对话交回智能助手，还有什么可以帮您？",
        EN: "The agent has handed you back to the assistant. Anything else I can help with?",
    },
    # identity
    "not_verified": {
        ZH: "为保护您的隐私，查询订单和会员信息需要先验证身份：可以用验证码验证（发到您账户上的"
        "手机或邮箱），或登录网站后在聊天窗口提问。也可以转人工客服。",
        EN: "To protect your privacy I can only share order and membership details once you're "
        "verified: get a code on the phone or e-mail of your account, or sign in on our "
        "website and ask in the chat there. A human agent can also help.",
    },
    "button_verify": {ZH: "用验证码验证", EN: "Verify with a code"},
    "button_cancel": {ZH: "取消", EN: "Cancel"},
    "ask_verify_contact": {
        ZH: "请输入您在本店账户上登记的手机号或邮箱，我会发送 6 位验证码。",
        EN: "Please type the phone number or e-mail address on your account, and I'll send you "
        "a 6-digit code.",
    },
    "verify_invalid_contact": {
        ZH: "这看起来不像手机号或邮箱，请重新输入（例如 138 0013 8000 或 name@example.com）。",
        EN: "That doesn't look like a phone number or an e-mail address. Please type it again "
        "(e.g. +86 138 0013 8000 or name@example.com).",
    },
    "ask_verify_code": {
        ZH: "如果 {contact} 是您账户上的联系方式，验证码已发出，{minutes} 分钟内有效。"
        "请输入验证码：",
        EN: "If {contact} is on your account, a code is on its way; it's valid for {minutes} "
        "minutes. Please type the code:",
    },
    "verify_wrong_code": {
        ZH: "验证码不正确，还可以再试 {left} 次。",
        EN: "That code isn't right. You have {left} more tries.",
    },
    "verify_not_a_code": {
        ZH: "验证码是 6 位数字，请重新输入。",
        EN: "The code has 6 digits. Please type it again.",
    },
    "verify_failed": {
        ZH: "验证没有成功（验证码已失效或错误次数过多）。您可以稍后重新获取验证码，或转人工客服。",
        EN: "The verification didn't work (the code expired or was wrong too many times). You "
        "can ask for a new code later, or talk to a person.",
    },
    "verify_rate_limited": {
        ZH: "验证码请求过于频繁，请一小时后再试，或转人工客服。",
        EN: "Too many codes were requested. Please try again in an hour, or talk to a person.",
    },
    "verify_unavailable": {
        ZH: "抱歉，暂时无法发送验证码，请登录网站后提问，或转人工客服。",
        EN: "Sorry, I can't send codes right now. Please sign in on our website and ask there, "
        "or talk to a person.",
    },
    "verify_not_provable": {
        ZH: "抱歉，在这个渠道上无法验证您的身份。请登录我们的网站后在网页聊天中提问，"
        "或使用微信、企业微信联系我们，也可以转人工客服。",
        EN: "Sorry, I can't verify who you are on this channel. Please sign in on our website "
        "and ask in its chat, write to us on WeChat or WeCom, or talk to a person.",
    },
    "verify_taken": {
        ZH: "这个聊天账号已关联到另一位客户，需要人工客服帮您处理。",
        EN: "This chat account is linked to another customer record; a person needs to sort "
        "that out for you.",
    },
    "verify_done": {
        ZH: "验证成功，{name}，感谢您！",
        EN: "Thanks, {name}, you're verified!",
    },
    "crm_unavailable": {
        ZH: "抱歉，系统暂时无法查询，请稍后再试或转人工客服。",
        EN: "Sorry, I can't look that up right now. Please try again shortly or ask for a human.",
    },
    # orders
    "ask_order_number": {
        ZH: "请提供您的订单号（以 DS 开头的 10 位编号，例如 DS01010003）。",
        EN: "What's your order number? It starts with DS and has 8 digits, e.g. DS01010003.",
    },
    "bad_order_number": {
        ZH: "“{value}”不是有效的订单号。订单号以 DS 开头，后面是 8 位数字。",
        EN: '"{value}" is not a valid order number: it is DS followed by 8 digits.',
    },
    "order_not_found": {
        ZH: "在您的账户下没有找到订单 {number}，请核对订单号。",
        EN: "I couldn't find order {number} on your account. Please check the number.",
    },
    "order_status": {
        ZH: "订单 {number}（{placed}下单，{amount} {currency}）：{status}。",
        EN: "Order {number} (placed {placed}, {amount} {currency}): {status}.",
    },
    "order_tracking": {
        ZH: "承运商：{carrier}，运单号：{tracking}。",
        EN: "Carrier: {carrier}, tracking number: {tracking}.",
    },
    # membership
    "membership": {
        ZH: "{name}您好，您当前是{tier}，积分余额 {points} 分。",
        EN: "Hi {name}, you're a {tier} member with {points} points.",
    },
    "membership_next": {
        ZH: "近12个月消费 {spend} 元，再消费 {missing} 元即可升级为{next_tier}。",
        EN: "You've spent ¥{spend} in the last 12 months; ¥{missing} more makes you {next_tier}.",
    },
    "membership_top": {
        ZH: "您已是最高等级会员，感谢您的支持！",
        EN: "That's our highest tier. Thank you for your loyalty!",
    },
    "membership_expiring": {
        ZH: "提醒：有 {points} 积分将于 {date} 前过期，记得尽快使用。",
        EN: "Heads-up: {points} points expire by {date}. Use them before then.",
    },
    # complaint
    "complaint_ack": {
        ZH: "非常抱歉给您带来不好的体验，我会马上为您登记处理。",
        EN: "I'm really sorry about this experience. Let me log it right away so it gets fixed.",
    },
    "ask_complaint_details": {
        ZH: "请您简单描述一下发生了什么？",
        EN: "Could you tell me briefly what happened?",
    },
    "ask_complaint_order": {
        ZH: "和哪个订单有关？请提供订单号；如果与订单无关，请点“无订单”。",
        EN: "Which order is it about? Give me the order number, or tap “No order”.",
    },
    "button_no_order": {ZH: "无订单", EN: "No order"},
    "complaint_filed": {
        ZH: "已为您登记投诉，工单号 {ticket_id}。专人会在 {hours} 小时内联系您并反馈处理结果。",
        EN: "I've filed your complaint as ticket {ticket_id}. A member of our team will contact "
        "you within {hours} hours with the outcome.",
    },
    "complaint_priority": {
        ZH: "您的问题已标记为优先处理。",
        EN: "Your case has been marked as a priority.",
    },
    "complaint_failed": {
        ZH: "抱歉，投诉暂时无法登记，请稍后再试或拨打客服热线 400-800-1234。",
        EN: "Sorry, I couldn't file the complaint just now. Please try again or call 400-800-1234.",
    },
    # satisfaction
    "ask_rating": {
        ZH: "本次服务您满意吗？请为我们打分（1 分很不满意，5 分非常满意）：",
        EN: "How satisfied are you with this chat? Rate us from 1 (very unhappy) to "
        "5 (very happy):",
    },
    "bad_rating": {
        ZH: "请选择 1 到 5 之间的分数。",
        EN: "Please pick a score from 1 to 5.",
    },
    "ask_csat_comment": {
        ZH: "谢谢！还有什么想告诉我们的吗？可以直接输入，或点“跳过”。",
        EN: "Thank you! Anything you'd like to add? Type it, or tap “Skip”.",
    },
    "button_skip": {ZH: "跳过", EN: "Skip"},
    "csat_thanks": {
        ZH: "感谢您的评价，祝您生活愉快，再见！",
        EN: "Thanks for your rating. Have a great day, goodbye!",
    },
    "goodbye": {
        ZH: "再见，祝您购物愉快！",
        EN: "Goodbye, and happy shopping!",
    },
    # control
    "restarted": {
        ZH: "好的，我们重新开始。有什么可以帮您？",
        EN: "Okay, let's start over. How can I help?",
    },
}

ORDER_STATUS = {
    "pending_payment": {ZH: "待付款", EN: "awaiting payment"},
    "paid": {ZH: "已付款，等待发货", EN: "paid, waiting to be shipped"},
    "shipped": {ZH: "已发货，运输中", EN: "shipped and on its way"},
    "delivered": {ZH: "已签收", EN: "delivered"},
    "cancelled": {ZH: "已取消", EN: "cancelled"},
    "refunded": {ZH: "已退款", EN: "refunded"},
}

TIERS = {
    "regular": {ZH: "普通会员", EN: "Regular"},
    "silver": {ZH: "银卡会员", EN: "Silver"},
    "gold": {ZH: "金卡会员", EN: "Gold"},
    "platinum": {ZH: "白金会员", EN: "Platinum"},
    "diamond": {ZH: "钻石会员", EN: "Diamond"},
}


def language_of(tracker: Tracker) -> str:
    """The conversation's language: that of the latest message that showed one."""
    return EN if tracker.get_slot("language") == EN else ZH


def text(key: str, language: str, **values: Any) -> str:
    """The message ``key`` in ``language`` with ``values`` filled in."""
    return MESSAGES[key][language].format(**values)


def label(table: dict[str, dict[str, str]], value: str, language: str) -> str:
    """A status or tier name in ``language`` (the raw value when unknown)."""
    return table.get(value, {}).get(language, value)


def local_date(value: str | None, language: str) -> str:
    """An ISO timestamp as a date the customer reads: 2026年11月24日 / 2026-11-24."""
    if not value:
        return ""
    day = datetime.fromisoformat(value).date()
    return f"{day.year}年{day.month}月{day.day}日" if language == ZH else day.isoformat()


def handoff_button(language: str) -> dict[str, str]:
    """The "talk to a person" quick reply."""
    return {"title": text("button_handoff", language), "payload": "/human_handoff"}


def verify_button(language: str) -> dict[str, str]:
    """The "verify with a one-time code" quick reply (actions/verification.py)."""
    return {"title": text("button_verify", language), "payload": "/verify_identity"}


def say(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    key: str,
    *,
    buttons: list[dict[str, str]] | None = None,
    **values: Any,
) -> None:
    """Send the message ``key`` in the conversation's language."""
    dispatcher.utter_message(text=text(key, language_of(tracker), **values), buttons=buttons or [])
