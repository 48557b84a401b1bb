// Panel header: title, connection state, language switch, minimise.

import type { Language } from "../config.ts";
import { useStrings } from "../i18n/context.ts";
import type { ConnectionState } from "../transport/socket.ts";
import { MinimiseIcon } from "./icons.tsx";

interface Props {
  language: Language;
  connection: ConnectionState | "idle";
  onToggleLanguage(): void;
  onMinimise(): void;
}

export function Header({ language, connection, onToggleLanguage, onMinimise }: Props) {
  const t = useStrings();
  const shown = connection === "idle" ? "connecting" : connection;
  return (
    <div class="csa-header">
      <div class="csa-heading">
        <h2 id="csa-title" class="csa-title">
          {t.title}
        </h2>
        <div class={`csa-status csa-status-${shown}`} data-testid="connection-status" data-state={connection} role="status">
          <span class="csa-dot" aria-hidden="true" />
          {t.state[shown]}
        </div>
      </div>
      <button
        type="button"
        class="csa-hbtn csa-lang"
        data-testid="language-toggle"
        data-locale={language}
        aria-label={t.switchLanguage}
        title={t.switchLanguage}
        onClick={onToggleLanguage}
      >
        <span lang={language === "zh" ? "en" : "zh-CN"}>{t.otherLanguage}</span>
      </button>
      <button
        type="button"
        class="csa-hbtn"
        data-testid="minimise"
        aria-label={t.minimise}
        title={t.minimise}
        onClick={onMinimise}
      >
        <MinimiseIcon />
      </button>
    </div>
  );
}
