// The server's refusals of the signed user (`identity_refused`): for the shop's developer,
// never shown to the customer (the message is answered anonymously, and the bot's answers say
// what the customer needs). Each refusal is a `csa-widget:error` event on `window`
// (`detail: {kind: "identity_refused", reason, detail}`), so the page can sign a fresh claim
// and call `CSAWidget.setUser`; the console gets one warning per distinct reason.

import type { IdentityRefusal } from "./transport/protocol.ts";

export const ERROR_EVENT = "csa-widget:error";

export interface IdentityRefusedDetail {
  kind: "identity_refused";
  reason: string;
  detail: string;
}

export class IdentityRefusals {
  private readonly warned = new Set<string>();

  constructor(
    private readonly target: EventTarget | null = typeof window !== "undefined" ? window : null,
    private readonly warn: (message: string) => void = (message) => console.warn(message),
  ) {}

  report({ reason, detail }: IdentityRefusal): void {
    if (!this.warned.has(reason)) {
      this.warned.add(reason);
      this.warn(`[csa-widget] signed user refused: ${reason}${detail ? `: ${detail}` : ""}`);
    }
    const event: IdentityRefusedDetail = { kind: "identity_refused", reason, detail };
    this.target?.dispatchEvent(new CustomEvent(ERROR_EVENT, { detail: event }));
  }

  /** A new claim was set (`CSAWidget.setUser`): its refusals are warned about afresh. */
  forget(): void {
    this.warned.clear();
  }
}
