// Every string the widget shows, in English and Chinese. The type makes `zh` carry every key
// of `en`. Texts from the bot and agents are not here: they arrive in the customer's language.

const en = {
  dialogLabel: "Chat with customer service",
  title: "Customer service",
  openChat: "Open the chat",
  closeChat: "Minimise the chat",
  unread: (n: number) => (n === 1 ? "1 unread message" : `${n} unread messages`),
  minimise: "Minimise",
  switchLanguage: "切换到中文",
  otherLanguage: "中文",
  state: {
    connecting: "Connecting…",
    online: "Online",
    reconnecting: "Reconnecting…",
  },
  welcome: "Hello! I'm the shop's assistant. Ask me about orders, delivery, returns, invoices or your points.",
  historyFailed: "Earlier messages could not be loaded.",
  assistant: "Assistant",
  agent: (name: string) => `${name} (service agent)`,
  pending: "Waiting to send",
  agentJoined: (name: string) => `${name} joined the chat`,
  typing: "The assistant is typing",
  choices: "Suggested replies",
  rating: "Your rating (1 to 5)",
  ratingOption: (n: number, label: string) => `${n} of 5: ${label}`,
  helpfulQuestion: "Was this helpful?",
  helpful: "Yes, helpful",
  notHelpful: "No, not helpful",
  thanks: "Thanks for your feedback!",
  inputLabel: "Your message",
  inputPlaceholder: "Type a message…",
  inputHint: "Enter sends, Shift+Enter starts a new line, Esc minimises.",
  send: "Send",
};

export type Strings = typeof en;

const zh: Strings = {
  dialogLabel: "与在线客服聊天",
  title: "在线客服",
  openChat: "打开在线客服",
  closeChat: "收起在线客服",
  unread: (n) => `${n} 条未读消息`,
  minimise: "最小化",
  switchLanguage: "Switch to English",
  otherLanguage: "EN",
  state: {
    connecting: "正在连接…",
    online: "在线",
    reconnecting: "正在重新连接…",
  },
  welcome: "您好！我是小店的智能客服，订单、配送、退换货、发票、积分的问题都可以问我。",
  historyFailed: "之前的消息暂时无法加载。",
  assistant: "智能客服",
  agent: (name) => `人工客服 ${name}`,
  pending: "等待发送",
  agentJoined: (name) => `${name} 已加入对话`,
  typing: "客服正在输入",
  choices: "推荐回复",
  rating: "您的评分（1 到 5）",
  ratingOption: (n, label) => `${n} 分（满分 5）：${label}`,
  helpfulQuestion: "这个回答有帮助吗？",
  helpful: "有帮助",
  notHelpful: "没有帮助",
  thanks: "感谢您的反馈！",
  inputLabel: "您的消息",
  inputPlaceholder: "请输入消息…",
  inputHint: "回车发送，Shift+回车换行，Esc 收起。",
  send: "发送",
};

export const STRINGS: Record<"zh" | "en", Strings> = { zh, en };
