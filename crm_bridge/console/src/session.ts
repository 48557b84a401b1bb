// The bearer token lives in sessionStorage: it goes when the tab is closed.
export const TOKEN_STORAGE_KEY = "csa-console-token";

export function loadToken(): string | null {
  try {
    return window.sessionStorage.getItem(TOKEN_STORAGE_KEY);
  } catch {
    return null;
  }
}

export function saveToken(token: string): void {
  try {
    window.sessionStorage.setItem(TOKEN_STORAGE_KEY, token);
  } catch {
    /* storage disabled: the token lives in memory for this page */
  }
}

export function clearToken(): void {
  try {
    window.sessionStorage.removeItem(TOKEN_STORAGE_KEY);
  } catch {
    /* nothing stored */
  }
}
