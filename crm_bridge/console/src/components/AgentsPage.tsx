// Admins' agents page: every console account with its status; create, deactivate or reactivate,
// reset a password (set, or generated and shown once), log an agent out everywhere.
import { useState } from "preact/hooks";

import type { ApiClient } from "../api/client";
import type { Agent, Language, Role } from "../api/types";
import { MIN_PASSWORD_LENGTH, passwordProblem } from "../auth/passwords";
import { useI18n } from "../i18n";
import { useAgents } from "../state/useAgents";

interface Props {
  api: ApiClient;
  me: Agent;
}

export function AgentsPage({ api, me }: Props) {
  const { t } = useI18n();
  const admin = useAgents(api);
  return (
    <section class="agents-page" data-testid="agents-page">
      <h2>{t("agentsTitle")}</h2>
      {admin.notice && (
        <div
          class={`notice notice-${admin.notice.kind}`}
          role={admin.notice.kind === "error" ? "alert" : "status"}
          data-testid="agents-notice"
        >
          <span>{admin.notice.text}</span>
          {admin.notice.secret && (
            <code class="secret" data-testid="generated-password">
              {admin.notice.secret}
            </code>
          )}
          <button type="button" class="ghost" onClick={admin.dismiss}>
            {t("dismiss")}
          </button>
        </div>
      )}
      {admin.agents === null ? (
        <p class="muted">{t("agentsLoading")}</p>
      ) : (
        <table class="agents-table">
          <thead>
            <tr>
              <th>{t("agentsName")}</th>
              <th>{t("agentsLogin")}</th>
              <th>{t("agentsRole")}</th>
              <th>{t("agentsLanguages")}</th>
              <th>{t("agentsStatus")}</th>
              <th>{t("agentsPresence")}</th>
              <th>{t("agentsActions")}</th>
            </tr>
          </thead>
          <tbody>
            {admin.agents.map((agent) => (
              <AgentRow key={agent.id} agent={agent} isMe={agent.id === me.id} admin={admin} />
            ))}
          </tbody>
        </table>
      )}
      <CreateAgentForm busy={admin.busy} onCreate={admin.create} />
    </section>
  );
}

type Admin = ReturnType<typeof useAgents>;

function AgentRow({ agent, isMe, admin }: { agent: Agent; isMe: boolean; admin: Admin }) {
  const { t, label } = useI18n();
  const [confirming, setConfirming] = useState(false);
  const [resetting, setResetting] = useState(false);
  const [password, setPassword] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const active = agent.active !== false;

  const reset = async (generate: boolean) => {
    const wrong = generate ? null : passwordProblem(password, { login: agent.login });
    if (wrong) {
      setProblem(t(wrong, { min: MIN_PASSWORD_LENGTH }));
      return;
    }
    setProblem(null);
    if (await admin.resetPassword(agent, generate ? null : password)) {
      setPassword("");
      setResetting(false);
    }
  };

  return (
    <tr data-testid="agents-row" data-agent-id={agent.id} data-login={agent.login} data-active={active ? "true" : "false"}>
      <td>
        {agent.name} {isMe && <span class="muted">{t("agentYou")}</span>}
      </td>
      <td>
        <code>{agent.login}</code>
      </td>
      <td>{label("role", agent.role)}</td>
      <td>{agent.languages.map((code) => label("language", code)).join(" · ")}</td>
      <td>
        <span class={`badge ${active ? "ok" : "off"}`} data-testid="agent-status">
          {active ? t("agentActive") : t("agentDeactivated")}
        </span>
      </td>
      <td>{label("availability", agent.availability)}</td>
      <td>
        <div class="agent-actions">
          {active && !isMe && !confirming && (
            <button type="button" class="ghost" data-testid="agent-deactivate" title={t("agentDeactivateTitle")} disabled={admin.busy} onClick={() => setConfirming(true)}>
              {t("agentDeactivate")}
            </button>
          )}
          {confirming && (
            <>
              <button
                type="button"
                class="danger"
                data-testid="agent-confirm"
                disabled={admin.busy}
                onClick={() => {
                  setConfirming(false);
                  void admin.deactivate(agent);
                }}
              >
                {t("agentConfirm")}
              </button>
              <button type="button" class="ghost" onClick={() => setConfirming(false)}>
                {t("cancel")}
              </button>
            </>
          )}
          {!active && (
            <button type="button" class="ghost" data-testid="agent-reactivate" disabled={admin.busy} onClick={() => void admin.reactivate(agent)}>
              {t("agentReactivate")}
            </button>
          )}
          <button type="button" class="ghost" data-testid="agent-reset" disabled={admin.busy} onClick={() => setResetting(!resetting)}>
            {t("agentResetPassword")}
          </button>
          <button type="button" class="ghost" data-testid="agent-logout-all" title={t("agentLogoutAllTitle")} disabled={admin.busy} onClick={() => void admin.logoutEverywhere(agent)}>
            {t("agentLogoutAll")}
          </button>
          {resetting && (
            <div class="agent-reset">
              <input
                type="password"
                autocomplete="new-password"
                data-testid="agent-reset-password"
                placeholder={t("agentResetPlaceholder")}
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
              <button type="button" data-testid="agent-reset-submit" disabled={admin.busy || !password} onClick={() => void reset(false)}>
                {t("agentResetSet")}
              </button>
              <button type="button" data-testid="agent-reset-generate" disabled={admin.busy} onClick={() => void reset(true)}>
                {t("agentResetGenerate")}
              </button>
              {problem && (
                <span class="login-error" role="alert">
                  {problem}
                </span>
              )}
            </div>
          )}
        </div>
      </td>
    </tr>
  );
}

const ROLES: readonly Role[] = ["agent", "supervisor", "admin"];
const LANGUAGES: readonly Language[] = ["zh", "en"];

function CreateAgentForm({ busy, onCreate }: { busy: boolean; onCreate: Admin["create"] }) {
  const { t, label } = useI18n();
  const [name, setName] = useState("");
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("agent");
  const [languages, setLanguages] = useState<Language[]>(["zh"]);
  const [capacity, setCapacity] = useState(3);
  const [problem, setProblem] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const wrong = passwordProblem(password, { login });
    if (wrong) {
      setProblem(t(wrong, { min: MIN_PASSWORD_LENGTH }));
      return;
    }
    setProblem(null);
    const made = await onCreate({
      name: name.trim(),
      login: login.trim(),
      password,
      role,
      languages: languages.length ? languages : ["zh"],
      max_concurrent: capacity,
    });
    if (made) {
      setName("");
      setLogin("");
      setPassword("");
    }
  };

  const toggle = (code: Language) =>
    setLanguages((current) => (current.includes(code) ? current.filter((c) => c !== code) : [...current, code]));

  return (
    <form class="agents-create" data-testid="agents-create-form" onSubmit={submit}>
      <h3>{t("agentsCreateTitle")}</h3>
      <label>
        <span>{t("agentsName")}</span>
        <input data-testid="agent-create-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        <span>{t("agentsLogin")}</span>
        <input
          data-testid="agent-create-login"
          required
          pattern="[a-z0-9_.\-]{3,100}"
          autocomplete="off"
          value={login}
          onInput={(e) => setLogin(e.currentTarget.value)}
        />
      </label>
      <label>
        <span>{t("agentsCreatePassword", { min: MIN_PASSWORD_LENGTH })}</span>
        <input
          data-testid="agent-create-password"
          type="password"
          autocomplete="new-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </label>
      <label>
        <span>{t("agentsRole")}</span>
        <select data-testid="agent-create-role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
          {ROLES.map((code) => (
            <option key={code} value={code}>
              {label("role", code)}
            </option>
          ))}
        </select>
      </label>
      <fieldset>
        <legend>{t("agentsLanguages")}</legend>
        {LANGUAGES.map((code) => (
          <label key={code} class="inline">
            <input type="checkbox" checked={languages.includes(code)} onChange={() => toggle(code)} />
            {label("language", code)}
          </label>
        ))}
      </fieldset>
      <label>
        <span>{t("agentsCreateCapacity")}</span>
        <input
          type="number"
          min={1}
          max={50}
          value={capacity}
          onInput={(e) => setCapacity(Math.max(1, Math.min(50, Number(e.currentTarget.value) || 1)))}
        />
      </label>
      {problem && (
        <p class="login-error" role="alert">
          {problem}
        </p>
      )}
      <button type="submit" class="primary" data-testid="agent-create-submit" disabled={busy}>
        {t("agentsCreateSubmit")}
      </button>
    </form>
  );
}
