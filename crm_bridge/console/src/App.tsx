// Log-in or workspace, depending on whether this tab holds a token.
import { useMemo, useRef, useState } from "preact/hooks";

import { ApiClient } from "./api/client";
import { LoginForm } from "./components/LoginForm";
import { WorkspaceView } from "./components/WorkspaceView";
import { I18nProvider } from "./i18n";
import { clearToken, loadToken, saveToken } from "./session";

export function App() {
  return (
    <I18nProvider>
      <Shell />
    </I18nProvider>
  );
}

function Shell() {
  const [token, setToken] = useState<string | null>(loadToken);
  const [expired, setExpired] = useState(false);
  const tokenRef = useRef(token);
  tokenRef.current = token;

  const api = useMemo(
    () =>
      new ApiClient({
        token: () => tokenRef.current,
        onUnauthorized: () => {
          clearToken();
          tokenRef.current = null;
          setToken(null);
          setExpired(true);
        },
      }),
    [],
  );

  if (!token) {
    return (
      <LoginForm
        api={api}
        expired={expired}
        onLoggedIn={(newToken) => {
          saveToken(newToken);
          tokenRef.current = newToken;
          setExpired(false);
          setToken(newToken);
        }}
      />
    );
  }
  return (
    <WorkspaceView
      key={token}
      api={api}
      token={token}
      onLogout={() => {
        clearToken();
        setToken(null);
      }}
    />
  );
}
