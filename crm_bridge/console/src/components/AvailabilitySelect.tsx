// The agent's presence: online, away or offline.
import type { Availability } from "../api/types";
import { useI18n } from "../i18n";

const CHOICES: Availability[] = ["online", "away", "offline"];

interface Props {
  value: Availability | null;
  onChange: (availability: Availability) => void;
}

export function AvailabilitySelect({ value, onChange }: Props) {
  const { t, label } = useI18n();
  return (
    <label class={`availability availability-${value ?? "unknown"}`}>
      <span class="sr-only">{t("availability")}</span>
      <select
        data-testid="availability-select"
        title={t("availability")}
        value={value ?? ""}
        disabled={value === null}
        onChange={(e) => onChange(e.currentTarget.value as Availability)}
      >
        {CHOICES.map((choice) => (
          <option key={choice} value={choice}>
            {label("availability", choice)}
          </option>
        ))}
      </select>
    </label>
  );
}
