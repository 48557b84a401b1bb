// Log-in or workspace, depending on whether the refresh cookie still names a live session.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { ApiClient, ApiError } from "./api/client";
import { endpoints } from "./api/endpoints";
import type { Token } from "./api/types";
import { AuthSession } from "./auth/session";
import { LoginForm, type LoggedOutReason } from "./components/LoginForm";
import { WorkspaceView } from "./components/WorkspaceView";
import { I18nProvider, useI18n } from "./i18n";

export function App() {
  return (
    <I18nProvider>
      <Shell />
    </I18nProvider>
  );
}

type Phase = "checking" | "unreachable" | "in" | "out";

/**
 * Whether this browser may have a session: a hint only (never a token), so that a first visit
 * or a visit after logging out shows the log-in form without a refresh call bound to fail.
 */
export const SESSION_HINT_KEY = "csa-console-session";

function sessionHinted(): boolean {
  try {
    return window.localStorage.getItem(SESSION_HINT_KEY) === "1";
  } catch {
    return true; // storage disabled: ask the bridge
  }
}

function hintSession(present: boolean): void {
  try {
    if (present) window.localStorage.setItem(SESSION_HINT_KEY, "1");
    else window.localStorage.removeItem(SESSION_HINT_KEY);
  } catch {
    /* storage disabled: every load asks the bridge */
  }
}

function Shell() {
  const { t } = useI18n();
  const [phase, setPhase] = useState<Phase>("checking");
  const [token, setToken] = useState<string | null>(null);
  const [reason, setReason] = useState<LoggedOutReason>("none");
  const phaseRef = useRef(phase);
  phaseRef.current = phase;
  /** Set while the agent logs out: the sockets closing meanwhile are no "session expired". */
  const leavingRef = useRef(false);

  const { api, auth } = useMemo(() => {
    let client: ApiClient;
    const session = new AuthSession({
      refresh: async () => {
        try {
          return await client.send<Token>(endpoints.refresh(), { authenticated: false });
        } catch (err) {
          // Refused: no live session. Anything else (network, 5xx): try again later.
          if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return null;
          throw err;
        }
      },
      onChange: (next) => {
        hintSession(next !== null);
        setToken(next);
        if (next) {
          setPhase("in");
          return;
        }
        // The session ended under the agent's feet (not a log-out of theirs): say so.
        if (phaseRef.current === "in" && !leavingRef.current) setReason("expired");
        setPhase("out");
      },
    });
    client = new ApiClient({
      token: () => session.accessToken,
      refresh: () => session.refresh(),
      onUnauthorized: () => session.end(),
    });
    return { api: client, auth: session };
  }, []);

  // A reload keeps the agent logged in: the refresh cookie gives a new access token.
  useEffect(() => {
    if (!sessionHinted()) {
      setPhase("out");
      return;
    }
    void auth.refresh().then((outcome) => {
      if (outcome === "unreachable") setPhase((current) => (current === "checking" ? "unreachable" : current));
    });
    return () => auth.clear();
  }, [auth]);

  const logOut = async (why: LoggedOutReason) => {
    leavingRef.current = true;
    // Best effort: the bridge ends the session (and its sockets); the form shows either way.
    if (why === "none") await api.send(endpoints.logout(), { renew: false }).catch(() => undefined);
    auth.clear();
    hintSession(false);
    setToken(null);
    setReason(why);
    setPhase("out");
  };

  if (phase === "checking" || phase === "unreachable") {
    return (
      <div class="login-page" data-testid="session-check" data-state={phase}>
        <p class="muted">{phase === "checking" ? t("sessionChecking") : t("errorNetwork")}</p>
      </div>
    );
  }
  if (phase === "out" || !token) {
    return (
      <LoginForm
        api={api}
        reason={reason}
        onLoggedIn={(issued) => {
          leavingRef.current = false;
          setReason("none");
          auth.accept(issued);
        }}
      />
    );
  }
  return (
    <WorkspaceView
      api={api}
      auth={auth}
      onLogout={() => void logOut("none")}
      onPasswordChanged={() => void logOut("passwordChanged")}
    />
  );
}
