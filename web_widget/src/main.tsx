// The loader: read `window.CSAWidgetConfig`, put one <csa-chat-widget> element on the page with
// an open shadow root holding the styles and the app, and expose `window.CSAWidget`.

import { render } from "preact";

import { type Controls, App } from "./components/App.tsx";
import { resolveConfig, type SignedUser, userArgument } from "./config.ts";
import { ERROR_EVENT } from "./identity.ts";
import { browserStore, SiteStore } from "./storage.ts";
import css from "./styles.css?inline";

export interface CSAWidgetApi {
  /** Open / minimise the chat panel. */
  open(): void;
  close(): void;
  toggle(): void;
  /** Switch the widget's language ("zh" or "en"), remembered like the header toggle. */
  setLanguage(language: "zh" | "en"): void;
  /**
   * The signed user for the next messages, `{id, expires, hash}` as in the config (e.g. a
   * fresh claim before the current one expires), or null: anonymous from now on. Throws a
   * TypeError on anything else.
   */
  setUser(user: SignedUser | null): void;
  /** Forget this site's conversation in this browser; the next message starts a new one. */
  reset(): void;
  readonly version: string;
}

declare global {
  interface Window {
    CSAWidgetConfig?: unknown;
    CSAWidget?: CSAWidgetApi;
  }
}

const VERSION = "1";
const TAG = "csa-chat-widget";
// Only defined while this script runs for the first time (async scripts included).
const script = document.currentScript as HTMLScriptElement | null;

function adoptStyles(shadow: ShadowRoot): void {
  // A constructed style sheet is not an inline <style>, so a host page whose CSP forbids
  // inline styles still shows the widget; the <style> element is the fallback.
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    shadow.adoptedStyleSheets = [sheet];
    return;
  } catch {
    const style = document.createElement("style");
    style.textContent = css;
    shadow.appendChild(style);
  }
}

function api(controls: { current: Controls | null }): CSAWidgetApi {
  return {
    open: () => controls.current?.open(),
    close: () => controls.current?.close(),
    toggle: () => controls.current?.toggle(),
    reset: () => controls.current?.reset(),
    setLanguage(language) {
      if (language !== "zh" && language !== "en") {
        throw new TypeError(`CSAWidget.setLanguage: "zh" or "en", not ${JSON.stringify(language)}`);
      }
      controls.current?.setLanguage(language);
    },
    setUser(user) {
      const checked = userArgument(user);
      for (const warning of checked.warnings) console.warn(`[csa-widget] ${warning}`);
      controls.current?.setUser(checked.user);
    },
    version: VERSION,
  };
}

function mount(): void {
  if (window.CSAWidget || document.querySelector(TAG)) {
    console.warn("[csa-widget] widget.js is on this page twice; the second copy does nothing");
    return;
  }
  const { config, warnings } = resolveConfig(window.CSAWidgetConfig, script?.src || null, location.href);
  for (const warning of warnings) console.warn(`[csa-widget] ${warning}`);

  const host = document.createElement(TAG);
  const shadow = host.attachShadow({ mode: "open" });
  adoptStyles(shadow);
  const container = document.createElement("div");
  shadow.appendChild(container);
  document.body.appendChild(host);

  const store = new SiteStore(browserStore("localStorage"), config.siteId);
  const controls: { current: Controls | null } = { current: null };
  render(<App config={config} store={store} controls={controls} />, container);
  window.CSAWidget = api(controls);
  window.dispatchEvent(new CustomEvent("csa-widget:ready", { detail: { version: VERSION } }));
}

function start(): void {
  try {
    mount();
  } catch (error) {
    console.error("[csa-widget] could not start:", error);
    window.dispatchEvent(new CustomEvent(ERROR_EVENT, { detail: { kind: "start", message: String(error) } }));
  }
}

if (document.body) start();
else document.addEventListener("DOMContentLoaded", start, { once: true });
