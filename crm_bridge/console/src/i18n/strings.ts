// Every string the console shows, in both languages. `zh` must have every key of `en`
// (the type says so); placeholders are written {name} and filled by `format`.

export type Locale = "zh" | "en";
export const LOCALES: readonly Locale[] = ["zh", "en"];

const en = {
  appTitle: "Agent console",
  supervisorView: "Supervisor view: all agents' conversations",
  logout: "Log out",

  loginTitle: "Agent console log-in",
  loginName: "Login",
  loginPassword: "Password",
  loginSubmit: "Log in",
  loginBusy: "Logging in…",
  loginWrong: "Wrong login or password.",
  loginExpired: "Your session has expired: please log in again.",
  loginFailed: "Log-in failed: {detail}",

  availability: "Availability",
  switchLanguage: "Switch the console language",
  languageName: "English",
  otherLanguageName: "中文",

  connectionConnecting: "Connecting…",
  connectionOnline: "Live",
  connectionReconnecting: "Reconnecting…",
  connectionRetry: "Connection lost, retrying in {seconds} s",

  shortcutsHelp: "Shortcuts: Ctrl+Enter (⌘+Enter) sends · Alt+A accepts the longest-waiting conversation",

  queueTitle: "Queue",
  queueEmpty: "Nobody is waiting.",
  queueWaiting: "waiting {time}",
  queueWaited: "waited {time}",
  queueAssignedTo: "with {name}",
  queueUnassigned: "unassigned",
  queueUnread: "{count} new",
  accept: "Accept",
  acceptTitle: "Take this conversation (Alt+A takes the longest-waiting one)",
  anonymousCustomer: "Visitor {id}",

  noConversation: "Choose a conversation from the queue.",
  loading: "Loading…",
  internalNote: "Internal note",
  sentiment: "Sentiment",
  intent: "intent",
  kbEntry: "KB",
  languageLabel: "Language",
  channelLabel: "Channel",
  statusLabel: "Status",
  priorityLabel: "Priority",

  composerPlaceholder: "Reply to the customer…",
  composerNotePlaceholder: "Internal note: only agents see it…",
  noteToggle: "Internal note",
  noteToggleTitle: "Write an internal note instead of a reply (never sent to the customer)",
  noteHint: "Note mode: the customer will not see this.",
  send: "Send",
  sendNote: "Add note",
  sendTitle: "Send (Ctrl+Enter / ⌘+Enter)",
  sending: "Sending…",
  charCount: "{count} / {max}",
  readOnlyWaiting: "Accept the conversation to reply.",
  readOnlyClosed: "This conversation is closed.",
  readOnlyOther: "This conversation belongs to {name}.",

  cannedReplies: "Canned replies",
  cannedChoose: "Insert a canned reply…",
  cannedNone: "No canned replies in this language",

  kbTitle: "Knowledge base",
  kbPlaceholder: "Search the knowledge base…",
  kbSearch: "Search",
  kbSearching: "Searching…",
  kbNoResults: "No matching answer.",
  kbInsert: "Insert",
  kbInsertTitle: "Insert this answer into the reply box",
  kbScore: "score {score}",

  transferLabel: "Transfer to",
  transferChoose: "Choose an agent…",
  transfer: "Transfer",
  transferOption: "{name} · {availability} · {active}/{max}",
  transferred: "Transferred to {name}.",

  resolutionCode: "Resolution",
  resolutionChoose: "Choose a resolution…",
  resolve: "Resolve",
  resolveTitle: "Close as resolved; the bot resumes and asks the customer for a rating",
  handBack: "Hand back to bot",
  handBackTitle: "Return the conversation to the bot without resolving it",
  resolved: "Conversation resolved.",
  handedBack: "Conversation handed back to the bot.",

  contextTitle: "Context",
  contextReason: "Reason",
  contextSummary: "Summary",
  contextIntents: "Intents",
  contextKbAttempts: "Knowledge-base answers tried",
  contextSentiment: "Sentiment trend",
  contextNone: "none",
  trendRising: "improving",
  trendFalling: "worsening",
  trendFlat: "steady",

  customerTitle: "Customer",
  customerAnonymous: "Not linked to a customer record.",
  linkTitle: "Link this chat account to a customer",
  linkPlaceholder: "Name, e-mail or phone",
  linkSearch: "Find",
  linkButton: "Link",
  linkNone: "No customer found.",
  customerTier: "Tier",
  customerLifecycle: "Lifecycle",
  customerPoints: "Points",
  customerClv: "CLV",
  customerOpenTickets: "Open tickets",
  customerLastOrders: "Last orders",
  customerNoOrders: "No orders.",
  orderNumber: "Order",
  orderStatus: "Status",
  orderAmount: "Amount",
  orderDate: "Placed",

  errorGeneric: "Something went wrong: {detail}",
  errorTaken: "Someone else has already taken this conversation.",
  errorNetwork: "The bridge cannot be reached.",
  dismiss: "Dismiss",
};

export type Messages = typeof en;
export type MessageKey = keyof Messages;

const zh: Messages = {
  appTitle: "客服工作台",
  supervisorView: "主管视图：全部客服的会话",
  logout: "退出登录",

  loginTitle: "客服工作台登录",
  loginName: "账号",
  loginPassword: "密码",
  loginSubmit: "登录",
  loginBusy: "正在登录…",
  loginWrong: "账号或密码错误。",
  loginExpired: "登录已过期，请重新登录。",
  loginFailed: "登录失败：{detail}",

  availability: "在线状态",
  switchLanguage: "切换工作台语言",
  languageName: "中文",
  otherLanguageName: "English",

  connectionConnecting: "正在连接…",
  connectionOnline: "实时",
  connectionReconnecting: "正在重连…",
  connectionRetry: "连接中断，{seconds} 秒后重试",

  shortcutsHelp: "快捷键：Ctrl+Enter（⌘+Enter）发送 · Alt+A 接入等待最久的会话",

  queueTitle: "排队列表",
  queueEmpty: "暂无等待中的客户。",
  queueWaiting: "已等待 {time}",
  queueWaited: "曾等待 {time}",
  queueAssignedTo: "由 {name} 接待",
  queueUnassigned: "未分配",
  queueUnread: "{count} 条新消息",
  accept: "接入",
  acceptTitle: "接入此会话（Alt+A 接入等待最久的会话）",
  anonymousCustomer: "访客 {id}",

  noConversation: "请从排队列表中选择一个会话。",
  loading: "加载中…",
  internalNote: "内部备注",
  sentiment: "情绪",
  intent: "意图",
  kbEntry: "知识库",
  languageLabel: "语言",
  channelLabel: "渠道",
  statusLabel: "状态",
  priorityLabel: "优先级",

  composerPlaceholder: "回复客户…",
  composerNotePlaceholder: "内部备注：仅客服可见…",
  noteToggle: "内部备注",
  noteToggleTitle: "写内部备注而不是回复（不会发送给客户）",
  noteHint: "备注模式：客户看不到此内容。",
  send: "发送",
  sendNote: "添加备注",
  sendTitle: "发送（Ctrl+Enter / ⌘+Enter）",
  sending: "发送中…",
  charCount: "{count} / {max}",
  readOnlyWaiting: "接入会话后才能回复。",
  readOnlyClosed: "此会话已结束。",
  readOnlyOther: "此会话由 {name} 接待。",

  cannedReplies: "快捷回复",
  cannedChoose: "插入快捷回复…",
  cannedNone: "此语言暂无快捷回复",

  kbTitle: "知识库",
  kbPlaceholder: "搜索知识库…",
  kbSearch: "搜索",
  kbSearching: "搜索中…",
  kbNoResults: "没有匹配的答案。",
  kbInsert: "插入",
  kbInsertTitle: "把这个答案插入回复框",
  kbScore: "得分 {score}",

  transferLabel: "转接给",
  transferChoose: "选择客服…",
  transfer: "转接",
  transferOption: "{name} · {availability} · {active}/{max}",
  transferred: "已转接给 {name}。",

  resolutionCode: "处理结果",
  resolutionChoose: "选择处理结果…",
  resolve: "结束会话",
  resolveTitle: "标记为已解决并结束；机器人恢复接待并请客户评分",
  handBack: "交还机器人",
  handBackTitle: "不结束问题，把会话交还给机器人",
  resolved: "会话已结束。",
  handedBack: "会话已交还机器人。",

  contextTitle: "上下文",
  contextReason: "转人工原因",
  contextSummary: "摘要",
  contextIntents: "意图",
  contextKbAttempts: "已尝试的知识库答案",
  contextSentiment: "情绪走势",
  contextNone: "无",
  trendRising: "好转",
  trendFalling: "恶化",
  trendFlat: "平稳",

  customerTitle: "客户",
  customerAnonymous: "未关联客户档案。",
  linkTitle: "将此聊天账号关联到客户",
  linkPlaceholder: "姓名、邮箱或手机号",
  linkSearch: "查找",
  linkButton: "关联",
  linkNone: "没有找到客户。",
  customerTier: "会员等级",
  customerLifecycle: "生命周期",
  customerPoints: "积分",
  customerClv: "客户终身价值",
  customerOpenTickets: "未结工单",
  customerLastOrders: "最近订单",
  customerNoOrders: "暂无订单。",
  orderNumber: "订单号",
  orderStatus: "状态",
  orderAmount: "金额",
  orderDate: "下单时间",

  errorGeneric: "出错了：{detail}",
  errorTaken: "该会话已被其他客服接入。",
  errorNetwork: "无法连接到服务。",
  dismiss: "关闭",
};

/** Labels of the codes the API sends; an unknown code is shown as it is. */
const enLabels = {
  availability: { online: "Online", away: "Away", offline: "Offline" },
  role: { agent: "Agent", supervisor: "Supervisor", admin: "Admin" },
  speaker: { customer: "Customer", bot: "Bot", agent: "Agent", system: "System" },
  status: { open: "Waiting", assigned: "Assigned", resolved: "Resolved", closed: "Closed" },
  priority: { low: "Low", normal: "Normal", high: "High", urgent: "Urgent" },
  reason: {
    asked_for_human: "Asked for a person",
    kb_failures: "Knowledge base could not answer",
    negative_sentiment: "Negative sentiment",
    sentiment_falling: "Sentiment worsening",
    vip_complaint: "Complaint by a high-value customer",
    legal_threat: "Legal threat",
  },
  sentiment: { negative: "negative", neutral: "neutral", positive: "positive" },
  tier: { regular: "Regular", silver: "Silver", gold: "Gold", platinum: "Platinum", diamond: "Diamond" },
  lifecycle: { prospect: "Prospect", new: "New", active: "Active", at_risk: "At risk", churned: "Churned" },
  decision: { answer: "answered", clarify: "asked to clarify", none: "no answer" },
  language: { zh: "Chinese", en: "English" },
} satisfies Record<string, Record<string, string>>;

export type LabelGroup = keyof typeof enLabels;

const zhLabels: Record<LabelGroup, Record<string, string>> = {
  availability: { online: "在线", away: "离开", offline: "离线" },
  role: { agent: "客服", supervisor: "主管", admin: "管理员" },
  speaker: { customer: "客户", bot: "机器人", agent: "客服", system: "系统" },
  status: { open: "等待中", assigned: "接待中", resolved: "已解决", closed: "已关闭" },
  priority: { low: "低", normal: "普通", high: "高", urgent: "紧急" },
  reason: {
    asked_for_human: "客户要求转人工",
    kb_failures: "知识库无法回答",
    negative_sentiment: "负面情绪",
    sentiment_falling: "情绪持续恶化",
    vip_complaint: "高价值客户投诉",
    legal_threat: "法律威胁",
  },
  sentiment: { negative: "负面", neutral: "中性", positive: "正面" },
  tier: { regular: "普通会员", silver: "银卡", gold: "金卡", platinum: "白金", diamond: "钻石" },
  lifecycle: { prospect: "潜在客户", new: "新客户", active: "活跃", at_risk: "流失风险", churned: "已流失" },
  decision: { answer: "已回答", clarify: "请客户澄清", none: "未回答" },
  language: { zh: "中文", en: "英文" },
};

export const dictionaries: Record<Locale, { messages: Messages; labels: Record<LabelGroup, Record<string, string>> }> = {
  en: { messages: en, labels: enLabels },
  zh: { messages: zh, labels: zhLabels },
};

/** Fill {placeholders}; a missing value leaves the placeholder visible. */
export function format(template: string, vars?: Record<string, string | number>): string {
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in vars ? String(vars[name]) : whole,
  );
}
