// Change one's own password: current + new (twice). Every session of the agent ends with it,
// so on success the console goes back to the log-in form.
import { useState } from "preact/hooks";

import type { ApiError } from "../api/client";
import { MIN_PASSWORD_LENGTH, passwordProblem } from "../auth/passwords";
import { useI18n } from "../i18n";

interface Props {
  login: string;
  /** Null when changed, else the bridge's refusal. */
  onSubmit: (current: string, next: string) => Promise<ApiError | null>;
  onDone: () => void;
  onCancel: () => void;
}

export function ChangePasswordDialog({ login, onSubmit, onDone, onCancel }: Props) {
  const { t } = useI18n();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const min = { min: MIN_PASSWORD_LENGTH };

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    const problem = passwordProblem(next, { login, repeat, current });
    if (problem) {
      setError(t(problem, min));
      return;
    }
    setBusy(true);
    setError(null);
    const refused = await onSubmit(current, next);
    if (!refused) {
      onDone();
      return;
    }
    setBusy(false);
    if (refused.status === 400) setError(t("passwordCurrentWrong"));
    else if (refused.status === 0) setError(t("errorNetwork"));
    else if (refused.status === 429) setError(t("loginSlowDown", { detail: refused.detail }));
    else setError(t("passwordRejected", { detail: refused.detail }));
  };

  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onCancel()}>
      <div role="dialog" aria-modal="true" aria-labelledby="change-password-title">
        <form
          class="modal"
          data-testid="change-password-dialog"
          onSubmit={submit}
          onKeyDown={(e) => e.key === "Escape" && onCancel()}
        >
          <h2 id="change-password-title">{t("changePasswordTitle")}</h2>
          <p class="muted small">{t("changePasswordHint", min)}</p>
          <input type="text" name="username" autocomplete="username" value={login} hidden readOnly />
          <label>
            <span>{t("passwordCurrent")}</span>
            <input
              data-testid="password-current"
              type="password"
              autocomplete="current-password"
              required
              autofocus
              value={current}
              onInput={(e) => setCurrent(e.currentTarget.value)}
            />
          </label>
          <label>
            <span>{t("passwordNew")}</span>
            <input
              data-testid="password-new"
              type="password"
              autocomplete="new-password"
              required
              value={next}
              onInput={(e) => setNext(e.currentTarget.value)}
            />
          </label>
          <label>
            <span>{t("passwordRepeat")}</span>
            <input
              data-testid="password-repeat"
              type="password"
              autocomplete="new-password"
              required
              value={repeat}
              onInput={(e) => setRepeat(e.currentTarget.value)}
            />
          </label>
          {error && (
            <p class="login-error" role="alert" data-testid="password-error">
              {error}
            </p>
          )}
          <div class="modal-actions">
            <button type="button" class="ghost" data-testid="password-cancel" onClick={onCancel}>
              {t("cancel")}
            </button>
            <button type="submit" class="primary" data-testid="password-submit" disabled={busy}>
              {busy ? t("passwordBusy") : t("passwordSubmit")}
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}
