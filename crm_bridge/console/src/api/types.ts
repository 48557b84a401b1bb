// Wire types of the bridge API the console uses (crm_bridge/console/API.md).

export type Language = "zh" | "en";
export type Role = "agent" | "supervisor" | "admin";
export type Availability = "online" | "away" | "offline";
export type HandoffStatus = "open" | "assigned" | "resolved" | "closed";
export type Priority = "low" | "normal" | "high" | "urgent";
export type TranscriptRole = "customer" | "bot" | "agent" | "system";
export type SentimentLabel = "negative" | "neutral" | "positive";

export interface Token {
  access_token: string;
  token_type: string;
  /** Seconds the access token lasts. */
  expires_in?: number | null;
}

export interface Agent {
  id: number;
  name: string;
  login: string;
  role: Role;
  languages: string[];
  availability: Availability;
  max_concurrent: number;
  /** False for a deactivated account (admins' agents list). */
  active?: boolean;
  password_changed_at?: string | null;
}

/** A console user an admin creates. */
export interface NewAgent {
  name: string;
  login: string;
  password: string;
  role: Role;
  languages: Language[];
  max_concurrent: number;
}

export interface PasswordResetResult {
  agent_id: number;
  /** Shown once: only when the bridge generated it. */
  generated_password: string | null;
  sessions_ended: number;
}

export interface SessionsEnded {
  agent_id: number;
  sessions_ended: number;
}

export interface TransferTarget {
  id: number;
  name: string;
  languages: string[];
  availability: Availability;
  active_conversations: number;
  max_concurrent: number;
}

export interface QueueCustomer {
  id: number;
  name: string | null;
  tier: string | null;
}

export interface QueueItem {
  id: number;
  sender_id: string | null;
  conversation_id: number | null;
  customer: QueueCustomer | null;
  language: string | null;
  channel: string | null;
  reason: string;
  priority: Priority | string;
  status: HandoffStatus;
  agent_id: number | null;
  agent_name: string | null;
  created_at: string;
  waiting_seconds: number;
  summary: string;
  last_message: string | null;
  sentiment: number | null;
}

export interface TranscriptItem {
  id: string;
  role: TranscriptRole;
  text: string;
  at: string;
  internal: boolean;
  agent_name: string | null;
  intent: string | null;
  sentiment_score: number | null;
  sentiment_label: SentimentLabel | null;
  kb_entry_id: string | null;
}

export interface IntentTurn {
  intent: string;
  confidence: number | null;
}

export interface KbAttempt {
  entry_id: string | null;
  score: number | null;
  decision: string | null;
}

export interface HandoffContext {
  summary?: string | null;
  reason?: string | null;
  language?: string | null;
  channel?: string | null;
  intents?: IntentTurn[];
  entities?: unknown;
  kb_attempts?: KbAttempt[];
  sentiment?: { per_turn?: number[]; trend?: number | null } | null;
}

export interface OrderSummary {
  number: string;
  status: string;
  amount: number | string;
  currency: string;
  placed_at: string;
}

export interface Customer360 {
  id: number;
  name: string | null;
  tier: string | null;
  lifecycle_stage: string | null;
  points_balance: number | null;
  clv: number | string | null;
  open_tickets: number | null;
  last_orders: OrderSummary[];
}

export interface HandoffDetail {
  handoff: QueueItem;
  transcript: TranscriptItem[];
  context: HandoffContext;
  customer: Customer360 | null;
}

export interface ResolutionCode {
  code: string;
  zh: string;
  en: string;
}

export interface CannedReply {
  id: string | number;
  language: string;
  title: string;
  text: string;
}

export interface HandoffOptions {
  resolution_codes: ResolutionCode[];
  canned_replies: CannedReply[];
}

export interface KbHit {
  entry_id: string;
  question: string;
  answer: string;
  score: number;
}

export interface DataList<T> {
  data: T[];
}

export type CloseMode = "resolve" | "hand_back";

/** What the server pushes over the console WebSocket. */
export type ServerEvent =
  | { type: "queue"; data: QueueItem[] }
  | { type: "message"; handoff_id: number; data: TranscriptItem }
  | { type: "handoff"; data: QueueItem }
  | { type: "agent"; data: Agent }
  | { type: "pong" };

/** A customer found by name, e-mail or phone (to link a chat account to). */
export interface CustomerHit {
  id: number;
  name: string | null;
  email: string | null;
  phone: string | null;
  tier: string | null;
}
