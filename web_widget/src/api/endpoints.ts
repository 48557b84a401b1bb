// Endpoint builders for the CRM bridge: pure, so they are tested without a network.

export interface Endpoint {
  url: string;
}

/** `GET {bridgeUrl}/api/v1/widget/history?session_id=<id>` (web_widget/CONTRACT.md). */
export function historyEndpoint(bridgeUrl: string, sessionId: string): Endpoint {
  const base = bridgeUrl.replace(/\/+$/, "");
  return { url: `${base}/api/v1/widget/history?session_id=${encodeURIComponent(sessionId)}` };
}
