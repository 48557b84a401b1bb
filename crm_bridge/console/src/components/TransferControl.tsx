// Give the conversation to another agent.
import { useState } from "preact/hooks";

import type { TransferTarget } from "../api/types";
import { useI18n } from "../i18n";

interface Props {
  targets: TransferTarget[];
  currentAgentId: number | null;
  disabled: boolean;
  onTransfer: (agentId: number) => void;
  onRefresh: () => void;
}

export function TransferControl({ targets, currentAgentId, disabled, onTransfer, onRefresh }: Props) {
  const { t, label } = useI18n();
  const [choice, setChoice] = useState("");
  const others = targets.filter((a) => a.id !== currentAgentId);
  return (
    <div class="transfer">
      <label>
        <span>{t("transferLabel")}</span>
        <select
          data-testid="transfer-select"
          value={choice}
          disabled={disabled}
          onFocus={onRefresh}
          onChange={(e) => setChoice(e.currentTarget.value)}
        >
          <option value="">{t("transferChoose")}</option>
          {others.map((agent) => (
            <option key={agent.id} value={String(agent.id)}>
              {t("transferOption", {
                name: agent.name,
                availability: label("availability", agent.availability),
                active: agent.active_conversations,
                max: agent.max_concurrent,
              })}
            </option>
          ))}
        </select>
      </label>
      <button
        type="button"
        data-testid="transfer-button"
        disabled={disabled || !choice}
        onClick={() => {
          onTransfer(Number(choice));
          setChoice("");
        }}
      >
        {t("transfer")}
      </button>
    </div>
  );
}
