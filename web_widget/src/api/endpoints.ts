// Endpoint builders for the CRM bridge: pure, so they are tested without a network.

export interface Endpoint {
  url: string;
  headers: Record<string, string>;
}

export const SESSION_HEADER = "X-Widget-Session";

/**
 * `GET {bridgeUrl}/api/v1/widget/history` with the session token in `X-Widget-Session`
 * (web_widget/CONTRACT.md): never in the query string, which ends up in access logs.
 */
export function historyEndpoint(bridgeUrl: string, token: string): Endpoint {
  const base = bridgeUrl.replace(/\/+$/, "");
  return { url: `${base}/api/v1/widget/history`, headers: { [SESSION_HEADER]: token } };
}
