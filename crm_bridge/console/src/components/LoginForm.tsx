// Log-in form: login + password -> access token (and the refresh cookie, set by the bridge).
import { useState } from "preact/hooks";

import { ApiError, type ApiClient } from "../api/client";
import { endpoints } from "../api/endpoints";
import type { Token } from "../api/types";
import { useI18n } from "../i18n";
import { LanguageToggle } from "./LanguageToggle";

/** Why the log-in form is shown: nothing to say, the session ended, or the password changed. */
export type LoggedOutReason = "none" | "expired" | "passwordChanged";

interface Props {
  api: ApiClient;
  reason: LoggedOutReason;
  onLoggedIn: (issued: Token) => void;
}

export function LoginForm({ api, reason, onLoggedIn }: Props) {
  const { t } = useI18n();
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const token = await api.send<Token>(endpoints.login(login.trim(), password), { authenticated: false });
      onLoggedIn(token);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 400)) setError(t("loginWrong"));
      else if (err instanceof ApiError && err.status === 429) setError(t("loginSlowDown", { detail: err.detail }));
      else if (err instanceof ApiError && err.status === 0) setError(t("errorNetwork"));
      else setError(t("loginFailed", { detail: err instanceof ApiError ? err.detail : String(err) }));
      setBusy(false);
    }
  };

  return (
    <div class="login-page">
      <form class="login-card" data-testid="login-form" onSubmit={submit}>
        <div class="login-head">
          <h1>{t("loginTitle")}</h1>
          <LanguageToggle />
        </div>
        {reason === "expired" && !error && (
          <p class="login-message" data-testid="login-expired">
            {t("loginExpired")}
          </p>
        )}
        {reason === "passwordChanged" && !error && (
          <p class="login-message" data-testid="login-password-changed">
            {t("loginPasswordChanged")}
          </p>
        )}
        <label>
          <span>{t("loginName")}</span>
          <input
            data-testid="login-username"
            name="username"
            autocomplete="username"
            required
            autofocus
            value={login}
            onInput={(e) => setLogin(e.currentTarget.value)}
          />
        </label>
        <label>
          <span>{t("loginPassword")}</span>
          <input
            data-testid="login-password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {error && (
          <p class="login-error" role="alert" data-testid="login-error">
            {error}
          </p>
        )}
        <button type="submit" class="primary" data-testid="login-submit" disabled={busy}>
          {busy ? t("loginBusy") : t("loginSubmit")}
        </button>
      </form>
    </div>
  );
}
