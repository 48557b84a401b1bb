// End the handoff: resolve with a resolution code, or hand the customer back to the bot.
import { useState } from "preact/hooks";

import type { CloseMode, ResolutionCode } from "../api/types";
import { useI18n } from "../i18n";

interface Props {
  codes: ResolutionCode[];
  disabled: boolean;
  onClose: (mode: CloseMode, resolutionCode: string | null) => void;
}

export function CloseControls({ codes, disabled, onClose }: Props) {
  const { t, locale } = useI18n();
  const [code, setCode] = useState("");
  return (
    <div class="close-controls">
      <label>
        <span>{t("resolutionCode")}</span>
        <select data-testid="resolution-select" value={code} disabled={disabled} onChange={(e) => setCode(e.currentTarget.value)}>
          <option value="">{t("resolutionChoose")}</option>
          {codes.map((c) => (
            <option key={c.code} value={c.code}>
              {(locale === "zh" ? c.zh : c.en) || c.code}
            </option>
          ))}
        </select>
      </label>
      <button
        type="button"
        class="primary"
        data-testid="resolve-button"
        title={t("resolveTitle")}
        disabled={disabled || !code}
        onClick={() => onClose("resolve", code)}
      >
        {t("resolve")}
      </button>
      <button
        type="button"
        data-testid="hand-back-button"
        title={t("handBackTitle")}
        disabled={disabled}
        onClick={() => onClose("hand_back", code || null)}
      >
        {t("handBack")}
      </button>
    </div>
  );
}
